// Package infra holds the Azure deployment of the app: main.bicep and its
// modules, the azd and az CLI entry points, and the Lighthouse notes. It has
// no Go code of its own; its tests (drift_test.go) keep the Bicep in step with
// the code it deploys: the queues and connections of functions/*/function.json,
// the variables shared/config reads, the tables shared/tablestore uses, and
// the layout of the package scripts/package.sh builds.
package infra
