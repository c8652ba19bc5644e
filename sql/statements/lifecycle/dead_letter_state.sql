-- Why a replay found nothing: the dead letter's (replayed, replayed_message_id), or no row.
SELECT replayed, replayed_message_id FROM mq.dead_letters WHERE id = $1
