//go:build !linux

package main

func loadAverage() string  { return "" }
func fsType(string) string { return "unknown" }
