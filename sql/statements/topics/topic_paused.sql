-- Whether a topic is paused, as committed now.
SELECT paused FROM mq.topics WHERE topic = $1
