"""The Tryton connector: the ERP API in front of a Tryton server (docs/connect-your-erp.md)."""
