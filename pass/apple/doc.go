// Package apple builds Apple Wallet event tickets: it loads and validates
// pass designs (templates), renders a ticket into pass.json, validates the
// result the way an iPhone would, and packages it as a signed .pkpass (a zip
// of pass.json, images, translations, manifest.json and a detached CMS
// signature) or as a .pkpasses bundle of several passes.
//
// Static template files are read, checked and hashed once when the template
// is loaded; building a pass renders only pass.json and the manifest, and
// signs the manifest.
package apple
