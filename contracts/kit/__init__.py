"""The shared kernel: mechanisms every service uses the same way. No business rules live here."""
