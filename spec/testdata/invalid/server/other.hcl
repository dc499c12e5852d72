server {} # ERROR: Duplicate server block
