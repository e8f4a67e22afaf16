package devserver

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"go.temporal.io/server/common/config"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives/timestamp"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// clusterName is the name of the single cluster the dev server runs.
const clusterName = "active"

// openStore prepares the SQLite database the server will use: a file under
// StateDir (created with its schema on first use; the caller holds the
// dir's lock) or a private in-memory
// database, and registers the namespaces that do not exist yet.
func openStore(o Options) (*config.SQL, error) {
	sqlConf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if o.StateDir == "" {
		// The SQLite plugin creates the schema of an in-memory database when
		// it first connects, and keeps that connection for the life of the
		// process. The random name keeps two servers in one process apart.
		sqlConf.DatabaseName = "kmemfix-" + strconv.FormatUint(rand.Uint64(), 36) //nolint:gosec // G404: a name unique in this process, not a secret
		sqlConf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
	} else {
		sqlConf.DatabaseName = filepath.Join(o.StateDir, DatabaseFile)
		sqlConf.ConnectAttributes = map[string]string{
			"mode": "rwc",
			// Write-ahead log, fsync at checkpoints only: about 3x faster
			// workflows than the default rollback journal (BenchmarkWorkflow).
			// A power cut may lose the last transactions, never corrupt the file.
			"journal_mode": "wal",
			"synchronous":  "1", // NORMAL
		}
		if err := ensureSchema(sqlConf); err != nil {
			return nil, err
		}
	}
	if err := createNamespaces(sqlConf, o); err != nil {
		return nil, err
	}
	return sqlConf, nil
}

// ensureSchema creates the schema when the database file does not exist yet.
// A file that exists is trusted to hold it: the server fails clearly at start
// otherwise.
func ensureSchema(sqlConf *config.SQL) error {
	_, err := os.Stat(sqlConf.DatabaseName)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("devserver: database file: %w", err)
	}
	if err := sqliteschema.SetupSchema(sqlConf); err != nil {
		// The SQLite plugin keeps its connection to the file open for the
		// life of the process, so the file cannot be cleaned up from here.
		return fmt.Errorf("devserver: create schema in %s: %w (remove the file and start again)", sqlConf.DatabaseName, err)
	}
	return nil
}

// createNamespaces writes the namespaces that are missing straight into the
// database, before the server starts: they are usable at once, with no wait
// for the server's namespace cache. Existing ones are left alone (Start
// updates their search attributes and retention through the API).
func createNamespaces(sqlConf *config.SQL, o Options) error {
	var nsConfs []*sqliteschema.NamespaceConfig
	for _, ns := range o.namespaces() {
		c, err := sqliteschema.NewNamespaceConfig(clusterName, ns, false, o.SearchAttributes)
		if err != nil {
			return fmt.Errorf("devserver: namespace %q: %w", ns, err)
		}
		c.Detail.Config.Retention = timestamp.DurationPtr(o.Retention)
		nsConfs = append(nsConfs, c)
	}
	if err := sqliteschema.CreateNamespaces(sqlConf, nsConfs...); err != nil {
		return fmt.Errorf("devserver: register namespaces: %w", err)
	}
	return nil
}
