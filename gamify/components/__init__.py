"""Pure rule components: no storage, no clock."""
