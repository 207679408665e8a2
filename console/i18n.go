package console

import (
	"net/http"
	"slices"

	"walletpass/internal/httpx"
)

// languages the console speaks, the first the default.
var languages = []string{"en", "fr", "de"}

// pageLanguage picks the language of the browser's Accept-Language header
// that the console speaks (English when none).
func pageLanguage(r *http.Request) string {
	return httpx.PreferredLanguage(r.Header.Get("Accept-Language"), func(l string) bool { return slices.Contains(languages, l) }, "en")
}

// text returns a message in a language (English when it has none there).
func text(lang, key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	if s, ok := m[lang]; ok {
		return s
	}
	return m["en"]
}

// messages are the console's words: key → language → text.
var messages = map[string]map[string]string{
	"console":       {"en": "Operator console", "fr": "Console d’exploitation", "de": "Betriebskonsole"},
	"search":        {"en": "Find an order", "fr": "Trouver une commande", "de": "Bestellung suchen"},
	"queue":         {"en": "Queue", "fr": "File d’attente", "de": "Warteschlange"},
	"audit":         {"en": "Audit log", "fr": "Journal d’audit", "de": "Audit-Protokoll"},
	"signOut":       {"en": "Sign out", "fr": "Se déconnecter", "de": "Abmelden"},
	"signIn":        {"en": "Sign in", "fr": "Se connecter", "de": "Anmelden"},
	"signedOut":     {"en": "You are signed out.", "fr": "Vous êtes déconnecté.", "de": "Sie sind abgemeldet."},
	"language":      {"en": "Language", "fr": "Langue", "de": "Sprache"},
	"tenant":        {"en": "Tenant", "fr": "Client", "de": "Mandant"},
	"allTenants":    {"en": "All tenants", "fr": "Tous les clients", "de": "Alle Mandanten"},
	"searchHint":    {"en": "File id, order secret, serial number, barcode or holder e-mail", "fr": "N° de dossier, secret de commande, numéro de série, code-barres ou e-mail du détenteur", "de": "Dossiernummer, Bestellgeheimnis, Seriennummer, Barcode oder E-Mail des Inhabers"},
	"find":          {"en": "Find", "fr": "Chercher", "de": "Suchen"},
	"noMatch":       {"en": "Nothing matches.", "fr": "Aucun résultat.", "de": "Keine Treffer."},
	"matchedBy":     {"en": "Found by", "fr": "Trouvé par", "de": "Gefunden über"},
	"fileId":        {"en": "File id", "fr": "N° de dossier", "de": "Dossiernummer"},
	"orderId":       {"en": "Order id", "fr": "N° de commande", "de": "Bestellnummer"},
	"event":         {"en": "Event", "fr": "Événement", "de": "Veranstaltung"},
	"holder":        {"en": "Holder", "fr": "Détenteur", "de": "Inhaber"},
	"passes":        {"en": "Passes", "fr": "Billets", "de": "Tickets"},
	"pass":          {"en": "Pass", "fr": "Billet", "de": "Ticket"},
	"serial":        {"en": "Serial number", "fr": "Numéro de série", "de": "Seriennummer"},
	"seat":          {"en": "Seat", "fr": "Place", "de": "Platz"},
	"status":        {"en": "Status", "fr": "État", "de": "Status"},
	"version":       {"en": "Version", "fr": "Version", "de": "Version"},
	"versions":      {"en": "Versions", "fr": "Versions", "de": "Versionen"},
	"appleDevices":  {"en": "Apple Wallet devices", "fr": "Appareils Apple Wallet", "de": "Apple-Wallet-Geräte"},
	"google":        {"en": "Google Wallet", "fr": "Google Wallet", "de": "Google Wallet"},
	"notSaved":      {"en": "not saved", "fr": "non enregistré", "de": "nicht gespeichert"},
	"saved":         {"en": "saved", "fr": "enregistré", "de": "gespeichert"},
	"devices":       {"en": "Devices", "fr": "Appareils", "de": "Geräte"},
	"device":        {"en": "Device", "fr": "Appareil", "de": "Gerät"},
	"pushToken":     {"en": "Push token", "fr": "Jeton de notification", "de": "Push-Token"},
	"none":          {"en": "none", "fr": "aucun", "de": "keine"},
	"timeline":      {"en": "Timeline", "fr": "Chronologie", "de": "Verlauf"},
	"when":          {"en": "When", "fr": "Quand", "de": "Wann"},
	"what":          {"en": "What", "fr": "Quoi", "de": "Was"},
	"detail":        {"en": "Detail", "fr": "Détail", "de": "Detail"},
	"correlation":   {"en": "Correlation id", "fr": "Identifiant de corrélation", "de": "Korrelations-ID"},
	"actions":       {"en": "Actions", "fr": "Actions", "de": "Aktionen"},
	"resync":        {"en": "Sync with SecuTix now", "fr": "Synchroniser avec SecuTix", "de": "Jetzt mit SecuTix abgleichen"},
	"repush":        {"en": "Push to every device again", "fr": "Notifier à nouveau chaque appareil", "de": "Alle Geräte erneut benachrichtigen"},
	"queued":        {"en": "Queued", "fr": "Mis en file", "de": "Eingereiht"},
	"kind":          {"en": "Kind", "fr": "Type", "de": "Art"},
	"state":         {"en": "State", "fr": "État", "de": "Zustand"},
	"count":         {"en": "Count", "fr": "Nombre", "de": "Anzahl"},
	"oldestDue":     {"en": "Oldest due", "fr": "Plus ancienne échéance", "de": "Älteste Fälligkeit"},
	"attempts":      {"en": "Attempts", "fr": "Tentatives", "de": "Versuche"},
	"lastError":     {"en": "Last error", "fr": "Dernière erreur", "de": "Letzter Fehler"},
	"retry":         {"en": "Retry", "fr": "Relancer", "de": "Wiederholen"},
	"discard":       {"en": "Discard", "fr": "Abandonner", "de": "Verwerfen"},
	"retryAll":      {"en": "Retry all shown", "fr": "Relancer toutes celles affichées", "de": "Alle angezeigten wiederholen"},
	"discardAll":    {"en": "Discard all shown", "fr": "Abandonner toutes celles affichées", "de": "Alle angezeigten verwerfen"},
	"emptyQueue":    {"en": "No task in this state.", "fr": "Aucune tâche dans cet état.", "de": "Keine Aufgabe in diesem Zustand."},
	"pending":       {"en": "pending", "fr": "en attente", "de": "wartend"},
	"running":       {"en": "running", "fr": "en cours", "de": "laufend"},
	"dead":          {"en": "dead", "fr": "abandonnée", "de": "gescheitert"},
	"show":          {"en": "Show", "fr": "Afficher", "de": "Anzeigen"},
	"actor":         {"en": "Operator", "fr": "Opérateur", "de": "Bediener"},
	"action":        {"en": "Action", "fr": "Action", "de": "Aktion"},
	"target":        {"en": "Target", "fr": "Cible", "de": "Ziel"},
	"done":          {"en": "Done", "fr": "Fait", "de": "Erledigt"},
	"back":          {"en": "Back to the console", "fr": "Retour à la console", "de": "Zurück zur Konsole"},
	"error":         {"en": "Something went wrong", "fr": "Une erreur s’est produite", "de": "Etwas ist schiefgelaufen"},
	"notFound":      {"en": "There is nothing here.", "fr": "Il n’y a rien ici.", "de": "Hier gibt es nichts."},
	"signInFirst":   {"en": "Sign in first.", "fr": "Connectez-vous d’abord.", "de": "Bitte zuerst anmelden."},
	"crossSite":     {"en": "This form was sent from another site; it was refused.", "fr": "Ce formulaire vient d’un autre site ; il a été refusé.", "de": "Dieses Formular kam von einer anderen Website und wurde abgelehnt."},
	"badForm":       {"en": "The form could not be read.", "fr": "Le formulaire est illisible.", "de": "Das Formular konnte nicht gelesen werden."},
	"badCSRF":       {"en": "The form has expired or was not sent by this console; reload the page and try again.", "fr": "Le formulaire a expiré ou ne vient pas de cette console ; rechargez la page et réessayez.", "de": "Das Formular ist abgelaufen oder stammt nicht von dieser Konsole; Seite neu laden und erneut versuchen."},
	"slowDown":      {"en": "Too many sign-in attempts; wait a few seconds.", "fr": "Trop de tentatives de connexion ; patientez quelques secondes.", "de": "Zu viele Anmeldeversuche; bitte einige Sekunden warten."},
	"idpDown":       {"en": "The identity provider cannot be reached.", "fr": "Le fournisseur d’identité est injoignable.", "de": "Der Identitätsanbieter ist nicht erreichbar."},
	"idpRefused":    {"en": "The sign-in was refused.", "fr": "La connexion a été refusée.", "de": "Die Anmeldung wurde abgelehnt."},
	"loginExpired":  {"en": "The sign-in expired; start again.", "fr": "La connexion a expiré ; recommencez.", "de": "Die Anmeldung ist abgelaufen; bitte neu beginnen."},
	"noRole":        {"en": "Your account has no role in this console (admin or operator:<tenant>).", "fr": "Votre compte n’a aucun rôle dans cette console (admin ou operator:<client>).", "de": "Ihr Konto hat keine Rolle in dieser Konsole (admin oder operator:<Mandant>)."},
	"forbidden":     {"en": "You may not see this tenant.", "fr": "Vous n’avez pas accès à ce client.", "de": "Sie dürfen diesen Mandanten nicht sehen."},
	"unavailable":   {"en": "The database did not answer; try again.", "fr": "La base de données n’a pas répondu ; réessayez.", "de": "Die Datenbank hat nicht geantwortet; bitte erneut versuchen."},
	"internal":      {"en": "An internal error occurred.", "fr": "Une erreur interne s’est produite.", "de": "Ein interner Fehler ist aufgetreten."},
	"conflict":      {"en": "It changed meanwhile; reload and look again.", "fr": "Cela a changé entre-temps ; rechargez.", "de": "Es hat sich inzwischen geändert; bitte neu laden."},
	"email":         {"en": "holder e-mail", "fr": "e-mail du détenteur", "de": "E-Mail des Inhabers"},
	"secret":        {"en": "order secret", "fr": "secret de commande", "de": "Bestellgeheimnis"},
	"barcode":       {"en": "barcode", "fr": "code-barres", "de": "Barcode"},
	"tooLong":       {"en": "The search is too long.", "fr": "La recherche est trop longue.", "de": "Die Suche ist zu lang."},
	"freshLinks":    {"en": "Fresh links for the buyer", "fr": "Nouveaux liens pour l’acheteur", "de": "Neue Links für den Käufer"},
	"linksExpire":   {"en": "They expire", "fr": "Ils expirent le", "de": "Sie laufen ab am"},
	"links":         {"en": "Make fresh links to send again", "fr": "Créer de nouveaux liens à renvoyer", "de": "Neue Links zum erneuten Senden erstellen"},
	"changes":       {"en": "Changes from the version before", "fr": "Changements depuis la version précédente", "de": "Änderungen gegenüber der vorigen Version"},
	"field":         {"en": "Field", "fr": "Champ", "de": "Feld"},
	"before":        {"en": "Before", "fr": "Avant", "de": "Vorher"},
	"after":         {"en": "After", "fr": "Après", "de": "Nachher"},
	"preview":       {"en": "Front and back", "fr": "Recto et verso", "de": "Vorder- und Rückseite"},
	"pushes":        {"en": "Pushes", "fr": "Notifications", "de": "Pushes"},
	"answer":        {"en": "Answer", "fr": "Réponse", "de": "Antwort"},
	"wallets":       {"en": "Added and removed", "fr": "Ajouts et retraits", "de": "Hinzugefügt und entfernt"},
	"wallet":        {"en": "Wallet", "fr": "Portefeuille", "de": "Wallet"},
	"added":         {"en": "added", "fr": "ajouté", "de": "hinzugefügt"},
	"removed":       {"en": "removed", "fr": "retiré", "de": "entfernt"},
	"removedBoth":   {"en": "Removed (Apple + Google)", "fr": "Retirés (Apple + Google)", "de": "Entfernt (Apple + Google)"},
	"deliveries":    {"en": "Webhook deliveries", "fr": "Webhooks envoyés", "de": "Webhook-Zustellungen"},
	"subscription":  {"en": "Subscription", "fr": "Abonnement", "de": "Abonnement"},
	"void":          {"en": "Void this ticket", "fr": "Annuler ce billet", "de": "Dieses Ticket ungültig machen"},
	"voidConfirm":   {"en": "I confirm: the pass shows void on every phone, and stays void whatever SecuTix says.", "fr": "Je confirme : le billet apparaît annulé sur chaque téléphone et le reste quoi que dise SecuTix.", "de": "Ich bestätige: Das Ticket erscheint auf jedem Telefon ungültig und bleibt es, was SecuTix auch meldet."},
	"reason":        {"en": "Reason", "fr": "Motif", "de": "Grund"},
	"appNotices":    {"en": "App notices", "fr": "Notifications de l’application", "de": "App-Benachrichtigungen"},
	"installation":  {"en": "Installation", "fr": "Installation", "de": "Installation"},
	"secutixAnswer": {"en": "SecuTix's answer, masked", "fr": "Réponse de SecuTix, masquée", "de": "Antwort von SecuTix, maskiert"},
	"tenants":       {"en": "Tenants", "fr": "Clients", "de": "Mandanten"},
	"certificates":  {"en": "Certificates", "fr": "Certificats", "de": "Zertifikate"},
	"daysLeft":      {"en": "days left", "fr": "jours restants", "de": "Tage übrig"},
	"expired":       {"en": "expired", "fr": "expiré", "de": "abgelaufen"},
	"institution":   {"en": "Institution", "fr": "Institution", "de": "Institution"},
	"quotaUse":      {"en": "Calls in the last minute", "fr": "Appels de la dernière minute", "de": "Aufrufe der letzten Minute"},
	"perMinute":     {"en": "allowed", "fr": "autorisés", "de": "erlaubt"},
	"pausedUntil":   {"en": "Paused by SecuTix until", "fr": "Suspendu par SecuTix jusqu’au", "de": "Von SecuTix pausiert bis"},
	"syncBacklog":   {"en": "Orders waiting to sync", "fr": "Commandes en attente de synchronisation", "de": "Bestellungen im Abgleichsstau"},
	"deadTasks":     {"en": "Tasks that gave up", "fr": "Tâches abandonnées", "de": "Gescheiterte Aufgaben"},
	"subscriptions": {"en": "Webhook subscriptions", "fr": "Abonnements webhook", "de": "Webhook-Abonnements"},
	"endpoint":      {"en": "Endpoint", "fr": "Adresse", "de": "Endpunkt"},
	"events":        {"en": "Events", "fr": "Événements", "de": "Ereignisse"},
	"waiting":       {"en": "Waiting", "fr": "En attente", "de": "Wartend"},
	"failing":       {"en": "Failing", "fr": "En échec", "de": "Fehlschlagend"},
	"givenUp":       {"en": "given up", "fr": "abandonnés", "de": "aufgegeben"},
	"disabled":      {"en": "disabled", "fr": "désactivé", "de": "deaktiviert"},
	"usage":         {"en": "Usage", "fr": "Utilisation", "de": "Nutzung"},
	"issued":        {"en": "Issued", "fr": "Émis", "de": "Ausgestellt"},
	"appleAdded":    {"en": "Added to Apple Wallet", "fr": "Ajoutés à Apple Wallet", "de": "Zu Apple Wallet hinzugefügt"},
	"appleRemoved":  {"en": "Removed from Apple Wallet", "fr": "Retirés d’Apple Wallet", "de": "Aus Apple Wallet entfernt"},
	"googleAdded":   {"en": "Added to Google Wallet", "fr": "Ajoutés à Google Wallet", "de": "Zu Google Wallet hinzugefügt"},
	"googleRemoved": {"en": "Removed from Google Wallet", "fr": "Retirés de Google Wallet", "de": "Aus Google Wallet entfernt"},
	"scanned":       {"en": "Scanned", "fr": "Scannés", "de": "Gescannt"},
	"inApple":       {"en": "In Apple Wallet", "fr": "Dans Apple Wallet", "de": "In Apple Wallet"},
	"inGoogle":      {"en": "In Google Wallet", "fr": "Dans Google Wallet", "de": "In Google Wallet"},
	"noPasses":      {"en": "No passes yet.", "fr": "Aucun billet pour l’instant.", "de": "Noch keine Tickets."},
	"downloadCSV":   {"en": "Download CSV", "fr": "Télécharger le CSV", "de": "CSV herunterladen"},
	"usageChart":    {"en": "Running totals by day", "fr": "Cumuls par jour", "de": "Laufende Summen pro Tag"},
	"byDay":         {"en": "By day (UTC)", "fr": "Par jour (UTC)", "de": "Pro Tag (UTC)"},
	"day":           {"en": "Day", "fr": "Jour", "de": "Tag"},
	"total":         {"en": "Total", "fr": "Total", "de": "Summe"},
}
