"""Ingestion, the pure part: documents (bytes) to normalised, classified articles.

rss / jsonapi parse a document into raw `Entry` values; normalise turns an entry into an
`Article` (using dates, identity and tcvn3); classify sets categories and flags. Fetching,
storage and scheduling live elsewhere: nothing here does I/O.
"""
