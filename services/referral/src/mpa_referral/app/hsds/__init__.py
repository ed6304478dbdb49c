"""The directory as Open Referral HSDS 3.1 JSON: the profile (`schema`), the export of what
a reader may see (`export`), and the idempotent import (`importer`)."""
