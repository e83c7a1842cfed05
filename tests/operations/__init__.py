"""The operations service: business monitors and the console, on a real platform."""
