"""QMS system API: inspection lots, usage decisions, nonconformances, SCAR and CAPA."""
