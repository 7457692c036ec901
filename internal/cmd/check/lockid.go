package check

import (
	"fmt"
	"strconv"
	"strings"

	engine "github.com/connectdb/connectdb/internal/check"
	"github.com/connectdb/connectdb/internal/cmdutil"
)

// parseLockID is temporary until internal/locks lands on main.
func parseLockID(s string) (*engine.LockID, error) {
	t := strings.TrimSpace(s)
	if a, b, ok := strings.Cut(t, ","); ok {
		x, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 32)
		y, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if err1 != nil || err2 != nil {
			return nil, cmdutil.Usagef("--lock-id %q is not two integers such as 10,20", s)
		}
		return &engine.LockID{ClassID: uint32(int32(x)), ObjID: uint32(int32(y)), ObjSubID: 2, Display: fmt.Sprintf("(%d,%d)", x, y)}, nil
	}
	id, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return nil, cmdutil.Usagef("--lock-id %q is not a bigint such as 4242 or two integers such as 10,20", s)
	}
	return &engine.LockID{ClassID: uint32(uint64(id) >> 32), ObjID: uint32(uint64(id)), ObjSubID: 1, Display: strconv.FormatInt(id, 10)}, nil
}
