"""The database side of taking a case's reference number at commit (reference_counter.py).

Frozen like a migration step: revision intake_0008 and schemas made with
`tables.metadata.create_all` (tests, benchmarks) apply exactly these statements; a change is
a new function here and a new revision.

Kept in step with the code: the SQLSTATE is `reference_counter.REFERENCE_SPACE_EXHAUSTED`,
999999 is `ports.MAX_REFERENCE_NUMBER`, and '~' starts `reference_counter.pending_reference`.
"""

from __future__ import annotations

_TAKE_NUMBER_V1 = """
CREATE FUNCTION case_reference_at_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    reference_year integer := extract(year FROM NEW.registered_at AT TIME ZONE 'UTC')::integer;
    taken integer;
    new_reference text;
BEGIN
    INSERT INTO case_reference_counters AS counter (year, last_number)
    VALUES (reference_year, 1)
    ON CONFLICT (year) DO UPDATE SET last_number = counter.last_number + 1
    RETURNING counter.last_number INTO taken;
    IF taken > 999999 THEN
        RAISE EXCEPTION 'no case reference left for %', reference_year
            USING ERRCODE = 'MPA01';
    END IF;
    new_reference := format(
        'MPA-%s-%s', lpad(reference_year::text, 4, '0'), lpad(taken::text, 6, '0')
    );
    UPDATE cases SET reference = new_reference WHERE case_id = NEW.case_id;
    UPDATE outbox
    SET envelope = jsonb_set(envelope, '{data,case_reference}', to_jsonb(new_reference))
    WHERE event_id = NEW.correlation_id AND envelope->'data' ? 'case_reference';
    RETURN NULL;
END;
$$
"""

_TRIGGER_V1 = """
CREATE CONSTRAINT TRIGGER cases_reference_at_commit
AFTER INSERT ON cases
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW
WHEN (NEW.reference LIKE '~%')
EXECUTE FUNCTION case_reference_at_commit()
"""


def reference_at_commit_v1() -> list[str]:
    """A deferred trigger on `cases` that gives a case inserted with a pending reference the
    next number of its registration year inside COMMIT, and writes the same reference into
    its registration event in the outbox (the event whose id is the case's correlation id,
    staged with a placeholder)."""
    return [_TAKE_NUMBER_V1, _TRIGGER_V1]


def drop_reference_at_commit_v1() -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS cases_reference_at_commit ON cases",
        "DROP FUNCTION IF EXISTS case_reference_at_commit()",
    ]
