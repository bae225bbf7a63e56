"""Knowledge: articles and their versions, hybrid search, suggestions for tickets, the self-service
assistant and the learning loop (gaps, feedback, stale articles)."""
