"""The audit hook pipeline that runs inside the transaction, before commit."""
