package main

// entry is the ELF entry point, in entry_amd64.s.
func entry()
