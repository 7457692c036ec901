package dsn_test

import (
	"fmt"

	"github.com/connectdb/connectdb/internal/dsn"
)

func ExampleDiagnose() {
	diags, repaired, err := dsn.Diagnose("postgres://connect:pa#ss@db.example.com/connect")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range diags {
		fmt.Println(d.Offset, d.Field, d.Severity)
	}
	fmt.Println(dsn.Redact(repaired))
	// Output:
	// 21 password error
	// postgres://connect:xxxxx@db.example.com/connect
}

func ExampleCombine() {
	c, err := dsn.Combine("postgres://connect@db.example.com/connect?options=-csearch_path=connect_schema", "p@ss word", "connectdb")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c)
	fmt.Println(c.PasswordSource)
	// Output:
	// postgres://connect:xxxxx@db.example.com/connect?options=-csearch_path%3Dconnect_schema&sslmode=require&application_name=connectdb
	// separate password setting
}

func ExampleParts_URL() {
	p := dsn.Parts{User: "connect", Password: "p@ss:w/rd", Host: "db.example.com", Port: 5432, Database: "connect"}
	fmt.Println(p.URL())
	fmt.Println(p)
	// Output:
	// postgres://connect:p%40ss:w%2Frd@db.example.com:5432/connect
	// postgres://connect:xxxxx@db.example.com:5432/connect
}
