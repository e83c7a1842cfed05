"""Business monitors: each finds the records that are out of order and says where to look."""
