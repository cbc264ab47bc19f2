"""Delivery of one-time codes: a development outbox, SMTP for email, a webhook for SMS."""
