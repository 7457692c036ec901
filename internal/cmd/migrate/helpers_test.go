package migrate

import (
	"database/sql"

	_ "modernc.org/sqlite"
)

func execSQLite(path, stmt string) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(stmt)
	return err
}
