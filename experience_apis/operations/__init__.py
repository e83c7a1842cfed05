"""Operations experience API: business monitors, the event operator surface and the console."""
