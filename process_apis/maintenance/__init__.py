"""Maintenance process API: nonconformance on a machine → maintenance, repair completion → parts,
cost, CAPA and resume, breakdowns → requests, spares → replenishment."""
