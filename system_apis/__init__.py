"""System APIs: one service per system of record (ERP, QMS, CMMS, MES) plus the id registry."""
