"""The AMI adapter: one connection to Asterisk, turned into domain events."""
