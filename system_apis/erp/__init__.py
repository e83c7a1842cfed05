"""ERP system API v1: items, suppliers, purchase orders, receipts, lots and stock, costs."""
