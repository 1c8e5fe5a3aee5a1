-- Push purpose (schema version 4): why the gateway sent a push, since the push type cannot say
-- it (a ring and an end-of-call push are both voip): 'ring', 'missed_call' or 'end'. NULL for a
-- push imported from another server. The pushes the gateway wrote before get theirs from their
-- type: its voip pushes were rings and its alerts missed-call alerts.
ALTER TABLE attempts ADD COLUMN purpose TEXT;
UPDATE attempts SET purpose = CASE push_type WHEN 'voip' THEN 'ring' ELSE 'missed_call' END
WHERE push_type IN ('voip', 'alert') AND call_id IN (SELECT call_id FROM calls);
