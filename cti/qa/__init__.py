"""Quality assurance: recording pauses, the QA page's search, playback and scoring."""
