"""The device as software sees it: register map, descriptors, host memory, NIC backends."""
