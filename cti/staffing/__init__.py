"""Staffing: agents needed per interval from a forecast (Erlang C and Erlang A)."""
