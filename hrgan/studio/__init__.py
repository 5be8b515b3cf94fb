"""hrgan studio: interactive semantic editing (the document and its edits; the app comes with issue 19)."""
