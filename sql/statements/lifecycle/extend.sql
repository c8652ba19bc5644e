-- Extends the lock of a delivery that is still current (PROCESSING with this lease and, when a
-- topic is named, in that topic) to now + extend_by, never shortening it; returns the new
-- expiry.
UPDATE mq.messages
SET locked_until = greatest(locked_until, $4 + $3), updated_at = $4
WHERE id = $1 AND status = 'PROCESSING' AND lease = $2 AND ($5::text IS NULL OR topic = $5)
RETURNING locked_until
