"""The API version this server reports to clients that check it when they connect."""
