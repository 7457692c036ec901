// Command connectdb checks and repairs the PostgreSQL side of a Posit Connect
// installation.
package main

func main() {}
