-- Whether a consumer group is paused for a topic (or for all its topics), as committed now.
SELECT EXISTS (SELECT FROM mq.group_pauses
               WHERE consumer_group = $1 AND topic IN ($2, '')) AS paused
