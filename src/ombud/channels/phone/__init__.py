"""Phone: call records with speaker-labelled transcripts, posted by a telephony system or an agent."""
