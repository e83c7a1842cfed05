"""Quality process API: receipt → inspection, decision → stock, production → inspection, disposition."""
