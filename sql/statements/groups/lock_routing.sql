-- Makes a subscription change wait for the publishers in flight and hold off new ones until it
-- commits (publishers hold mq.subscriptions in ROW EXCLUSIVE mode until they commit), so that
-- every message is routed by the subscriptions committed before it.
LOCK TABLE mq.subscriptions IN SHARE ROW EXCLUSIVE MODE
