-- Every paused consumer group (topic '': all its topics), for the per-session copy.
SELECT consumer_group, topic FROM mq.group_pauses
