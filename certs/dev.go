package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// DevPaths are the files of a development PKI made by [EnsureDev].
type DevPaths struct {
	WWDRCert, WWDRKey, Cert, Key string
}

// Development PKI parameters.
const (
	devKeyBits     = 2048
	devWWDRCN      = "Walletpass Development WWDR Certification Authority"
	devWWDROU      = "G4"
	devWWDROrg     = "walletpass development"
	devCountry     = "US"
	devBackdate    = 5 * time.Minute // tolerate clock skew between machines
	devWWDRYears   = 10
	devLeafYears   = 1
	devWWDRName    = "wwdr"
	devCertPerm    = 0o644
	devKeyPerm     = 0o600
	devDirPerm     = 0o700
	devSerialBytes = 16 // 128 bits
)

var (
	oidCommonName         = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidCountry            = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidOrganization       = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrganizationalUnit = asn1.ObjectIdentifier{2, 5, 4, 11}
)

// EnsureDev makes a development PKI in dir that mimics Apple's, creating
// only what is missing or stale, and returns its paths. It is idempotent:
// valid existing files are reused byte for byte.
//
// dir is created with mode 0700 if needed. The stand-in WWDR (wwdr.pem,
// wwdr.key.pem) is a self-signed RSA 2048 CA valid for 10 years, with
// Apple's WWDR subject shape; it is created if either file is missing, the
// key does not match, or it expires within 30 days. The pass certificate
// (<passTypeID>.pem, <passTypeID>.key.pem) is an RSA 2048 leaf valid for one
// year with Apple's subject shape (UID, CN "Pass Type ID: …", OU teamID, O
// organisation, C US), the pass-signing extended key usage and the
// 1.2.840.113635.100.6.1.16 extension. It is created if either file is
// missing, the key does not match, it was not issued by the current
// wwdr.pem, it expires within 30 days, or its subject differs from the
// arguments.
//
// Keys are written with mode 0600 and certificates with 0644, each through a
// temporary file in dir and a rename, so a reader never sees a partial file.
// EnsureDev is not safe to run concurrently on the same dir from several
// processes.
//
// It returns an error if an argument is empty, passTypeID is not usable as a
// file name, or a file cannot be created, read or written; it also returns
// an error, rather than overwrite it, if an existing file is not a PEM
// certificate or key.
func EnsureDev(dir, passTypeID, teamID, organisation string) (DevPaths, error) {
	return ensureDev(dir, passTypeID, teamID, organisation, time.Now())
}

// ensureDev is EnsureDev at time now.
func ensureDev(dir, passTypeID, teamID, organisation string, now time.Time) (DevPaths, error) {
	if err := validateDevArgs(passTypeID, teamID, organisation); err != nil {
		return DevPaths{}, fmt.Errorf("certs: ensure dev PKI in %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, devDirPerm); err != nil {
		return DevPaths{}, fmt.Errorf("certs: ensure dev PKI: %w", err)
	}
	paths := DevPaths{
		WWDRCert: filepath.Join(dir, devWWDRName+".pem"),
		WWDRKey:  filepath.Join(dir, devWWDRName+".key.pem"),
		Cert:     filepath.Join(dir, passTypeID+".pem"),
		Key:      filepath.Join(dir, passTypeID+".key.pem"),
	}

	wwdr, wwdrKey, err := loadDevPair(paths.WWDRCert, paths.WWDRKey)
	if err != nil {
		return DevPaths{}, err
	}
	if wwdr == nil || !wwdr.IsCA || !validFor(wwdr, now, expiryWarning) {
		if wwdr, wwdrKey, err = newDevWWDR(now); err != nil {
			return DevPaths{}, err
		}
		if err := writeDevPair(paths.WWDRCert, paths.WWDRKey, wwdr, wwdrKey); err != nil {
			return DevPaths{}, err
		}
	}

	leaf, _, err := loadDevPair(paths.Cert, paths.Key)
	if err != nil {
		return DevPaths{}, err
	}
	if leaf == nil || !devLeafCurrent(leaf, wwdr, passTypeID, teamID, organisation, now) {
		leaf, leafKey, err := newDevLeaf(wwdr, wwdrKey, passTypeID, teamID, organisation, now)
		if err != nil {
			return DevPaths{}, err
		}
		if err := writeDevPair(paths.Cert, paths.Key, leaf, leafKey); err != nil {
			return DevPaths{}, err
		}
	}
	return paths, nil
}

// validateDevArgs checks EnsureDev's subject arguments.
func validateDevArgs(passTypeID, teamID, organisation string) error {
	switch {
	case passTypeID == "":
		return errors.New("empty pass type ID")
	case teamID == "":
		return errors.New("empty team ID")
	case organisation == "":
		return errors.New("empty organisation")
	case !utf8.ValidString(passTypeID) || !utf8.ValidString(teamID) || !utf8.ValidString(organisation):
		return errors.New("pass type ID, team ID and organisation must be valid UTF-8")
	case passTypeID == "." || passTypeID == ".." || strings.ContainsAny(passTypeID, `/\`+"\x00"):
		return fmt.Errorf("pass type ID %q is not usable as a file name", passTypeID)
	case strings.EqualFold(passTypeID, devWWDRName):
		return fmt.Errorf("pass type ID %q would clash with the WWDR files", passTypeID)
	}
	return nil
}

// loadDevPair reads a certificate and key written by writeDevPair. It
// returns nil values and no error if either file is missing or the key does
// not match the certificate (as after a crash between the two renames), so
// that the caller makes a new pair; it returns an error if a file exists but
// cannot be read or parsed.
func loadDevPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		} else if err != nil {
			return nil, nil, fmt.Errorf("certs: ensure dev PKI: %w", err)
		}
	}
	cert, err := LoadCertificate(certPath)
	if err != nil {
		return nil, nil, err
	}
	key, err := readPEMKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	if !keyMatches(key, cert) {
		return nil, nil, nil
	}
	return cert, key, nil
}

// validFor reports whether c is valid at now and stays valid for at least
// margin after it.
func validFor(c *x509.Certificate, now time.Time, margin time.Duration) bool {
	return !now.Before(c.NotBefore) && c.NotAfter.Sub(now) >= margin
}

// devLeafCurrent reports whether an existing development pass certificate
// can be reused.
func devLeafCurrent(leaf, wwdr *x509.Certificate, passTypeID, teamID, organisation string, now time.Time) bool {
	return leaf.CheckSignatureFrom(wwdr) == nil &&
		validFor(leaf, now, expiryWarning) &&
		PassTypeID(leaf) == passTypeID &&
		leaf.Subject.CommonName == passTypeIDPrefix+passTypeID &&
		TeamID(leaf) == teamID &&
		len(leaf.Subject.Organization) == 1 && leaf.Subject.Organization[0] == organisation
}

// newDevWWDR makes the self-signed stand-in WWDR CA.
func newDevWWDR(now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, devKeyBits)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: generate dev WWDR key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, fmt.Errorf("certs: generate dev WWDR: %w", err)
	}
	subject, err := rawName(
		attr(oidCommonName, devWWDRCN),
		attr(oidOrganizationalUnit, devWWDROU),
		attr(oidOrganization, devWWDROrg),
		country(devCountry),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: generate dev WWDR: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            subject,
		NotBefore:             now.Add(-devBackdate),
		NotAfter:              now.AddDate(devWWDRYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // like Apple's WWDR: it issues leaves only
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: create dev WWDR certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: parse dev WWDR certificate: %w", err)
	}
	return cert, key, nil
}

// newDevLeaf makes a pass certificate for passTypeID issued by wwdr.
func newDevLeaf(wwdr *x509.Certificate, wwdrKey crypto.Signer, passTypeID, teamID, organisation string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, devKeyBits)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: generate dev pass key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, fmt.Errorf("certs: generate dev pass certificate: %w", err)
	}
	subject, err := rawName(
		attr(oidUID, passTypeID),
		attr(oidCommonName, passTypeIDPrefix+passTypeID),
		attr(oidOrganizationalUnit, teamID),
		attr(oidOrganization, organisation),
		country(devCountry),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: generate dev pass certificate: %w", err)
	}
	typeID, err := asn1.MarshalWithParams(passTypeID, "utf8")
	if err != nil {
		return nil, nil, fmt.Errorf("certs: generate dev pass certificate: encode pass type ID: %w", err)
	}
	notAfter := now.AddDate(devLeafYears, 0, 0)
	if notAfter.After(wwdr.NotAfter) {
		notAfter = wwdr.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            subject,
		NotBefore:             now.Add(-devBackdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{oidPassSigningEKU},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: oidPassTypeIDExt, Value: typeID}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, wwdr, key.Public(), wwdrKey)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: create dev pass certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: parse dev pass certificate: %w", err)
	}
	return cert, key, nil
}

// newSerial returns a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	b := make([]byte, devSerialBytes)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("random serial: %w", err)
		}
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n, nil
		}
	}
}

// attr is a subject attribute encoded as a UTF8String, as Apple does.
func attr(oid asn1.ObjectIdentifier, s string) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{
		Type:  oid,
		Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagUTF8String, Bytes: []byte(s)},
	}
}

// country is a countryName attribute, a PrintableString as Apple has it.
func country(c string) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oidCountry, Value: c}
}

// rawName encodes a distinguished name with one attribute per RDN, in the
// given order (Go's pkix.Name would reorder them).
func rawName(attrs ...pkix.AttributeTypeAndValue) ([]byte, error) {
	seq := make(pkix.RDNSequence, 0, len(attrs))
	for _, a := range attrs {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{a})
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		return nil, fmt.Errorf("encode subject: %w", err)
	}
	return der, nil
}

// writeDevPair writes key then certificate, each atomically, so that a crash
// in between leaves a mismatched pair that loadDevPair replaces.
func writeDevPair(certPath, keyPath string, cert *x509.Certificate, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("certs: write key %s: encode: %w", keyPath, err)
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), devKeyPerm); err != nil {
		return fmt.Errorf("certs: write key %s: %w", keyPath, err)
	}
	if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), devCertPerm); err != nil {
		return fmt.Errorf("certs: write certificate %s: %w", certPath, err)
	}
	return nil
}

// writeFileAtomic writes data to path with mode perm through a temporary
// file in the same directory and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
