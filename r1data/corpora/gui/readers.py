"""Real sources (AndroidControl, ScreenSpot): filled in below."""
