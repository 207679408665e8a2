package pass

// Words is what walletpass tells a ticket holder, in one language: the
// labels of a seat, the app notices, the Google Wallet messages and the
// order page. It is the one translation table of the service: add a
// language here and every channel speaks it.
type Words struct {
	// Labels of a seat's parts.
	Row, Seat, Block string
	// Notices holds, per app notice (NoticeReady, …), its title and its
	// body, whose %s is the event's name.
	Notices map[string][2]string
	Google  GoogleWords
	Page    PageWords
}

// GoogleWords are the messages added to a Google Wallet pass when its
// ticket changes. Bodies with %s take a time or a date.
type GoogleWords struct {
	CancelledHead, CancelledBody string
	// ValidAgainHead and ValidAgainBody tell the holder of a cancelled
	// ticket that it is valid again (a cancellation undone by a reprint).
	ValidAgainHead, ValidAgainBody          string
	UsedHead, CheckedInHead, ScannedBody    string
	TimeHead, TimeBody, VenueHead, SeatHead string
	GateHead                                string
	// NoticeHead heads an organiser's message that has no title.
	NoticeHead string
}

// PageWords are the texts of the buyer's order page.
type PageWords struct {
	Title, Order, AddApple, AddAllApple, AddGoogle, Scan, QR string
	Row, Seat, Block, Valid, Used, Cancelled, NoWallet       string
	Months                                                   [12]string
	// LinkExpired, LinkInvalid and LinkHelp are what a buyer's browser
	// shows for a wallet link that has expired or is not valid.
	LinkExpired, LinkInvalid, LinkHelp string
}

// WordsFor returns the words of locale's language (see Language), or
// English when we do not speak it.
func WordsFor(locale string) Words {
	if w, ok := words[Language(locale)]; ok {
		return w
	}
	return words["en"]
}

// Speaks reports whether lang (a lowercase language such as "fr") has
// words of its own.
func Speaks(lang string) bool {
	_, ok := words[lang]
	return ok
}

var words = map[string]Words{
	"en": {
		Row: "Row", Seat: "Seat", Block: "Block",
		Notices: map[string][2]string{
			NoticeReady:       {"Your tickets are ready", "Add them to your wallet: %s"},
			NoticeChanged:     {"Your ticket changed", "See what is new: %s"},
			NoticeCancelled:   {"Ticket cancelled", "A ticket of your order was cancelled: %s"},
			NoticeTransferred: {"Ticket transferred", "A ticket of your order went to its new holder: %s"},
		},
		Google: GoogleWords{
			CancelledHead: "Ticket cancelled", CancelledBody: "This ticket was cancelled and is no longer valid.",
			ValidAgainHead: "Ticket valid again", ValidAgainBody: "This ticket is valid again.",
			UsedHead: "Ticket used", CheckedInHead: "Checked in", ScannedBody: "Scanned at the entrance at %s.",
			TimeHead: "New date and time", TimeBody: "The event now starts on %s.", VenueHead: "New venue",
			SeatHead: "Your seat changed", GateHead: "Your entrance changed", NoticeHead: "Message from the organiser",
		},
		Page: PageWords{
			Title: "Your tickets", Order: "Order", AddApple: "Add to Apple Wallet", AddAllApple: "Add all tickets to Apple Wallet",
			AddGoogle: "Add to Google Wallet", Scan: "Scan this code with your phone to add the tickets to its wallet.", QR: "QR code of this page",
			Valid: "Valid", Used: "Used", Cancelled: "Cancelled",
			NoWallet:    "Google Wallet is not offered for this event.",
			LinkExpired: "This link has expired.", LinkInvalid: "This link is not valid.",
			LinkHelp: "Open your order page again from your confirmation e-mail, or ask the organiser for a new link.",
			Months:   [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
		},
	},
	"fr": {
		Row: "Rang", Seat: "Place", Block: "Bloc",
		Notices: map[string][2]string{
			NoticeReady:       {"Vos billets sont prêts", "Ajoutez-les à votre wallet : %s"},
			NoticeChanged:     {"Votre billet a changé", "Voyez ce qui est nouveau : %s"},
			NoticeCancelled:   {"Billet annulé", "Un billet de votre commande a été annulé : %s"},
			NoticeTransferred: {"Billet transféré", "Un billet de votre commande est passé à son nouveau titulaire : %s"},
		},
		Google: GoogleWords{
			CancelledHead: "Billet annulé", CancelledBody: "Ce billet a été annulé et n'est plus valable.",
			ValidAgainHead: "Billet de nouveau valable", ValidAgainBody: "Ce billet est de nouveau valable.",
			UsedHead: "Billet utilisé", CheckedInHead: "Entrée enregistrée", ScannedBody: "Scanné à l'entrée à %s.",
			TimeHead: "Nouvelle date", TimeBody: "L'événement commence désormais le %s.", VenueHead: "Nouveau lieu",
			SeatHead: "Votre place a changé", GateHead: "Votre entrée a changé", NoticeHead: "Message de l’organisateur",
		},
		Page: PageWords{
			Title: "Vos billets", Order: "Commande", AddApple: "Ajouter à Apple Wallet", AddAllApple: "Ajouter tous les billets à Apple Wallet",
			AddGoogle: "Ajouter à Google Wallet", Scan: "Scannez ce code avec votre téléphone pour y ajouter les billets.", QR: "Code QR de cette page",
			Valid: "Valable", Used: "Utilisé", Cancelled: "Annulé",
			NoWallet:    "Google Wallet n'est pas proposé pour cet événement.",
			LinkExpired: "Ce lien a expiré.", LinkInvalid: "Ce lien n'est pas valable.",
			LinkHelp: "Rouvrez la page de votre commande depuis votre e-mail de confirmation, ou demandez un nouveau lien à l'organisateur.",
			Months:   [12]string{"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
		},
	},
	"de": {
		Row: "Reihe", Seat: "Platz", Block: "Block",
		Notices: map[string][2]string{
			NoticeReady:       {"Ihre Tickets sind bereit", "Fügen Sie sie Ihrer Wallet hinzu: %s"},
			NoticeChanged:     {"Ihr Ticket hat sich geändert", "Sehen Sie, was neu ist: %s"},
			NoticeCancelled:   {"Ticket storniert", "Ein Ticket Ihrer Bestellung wurde storniert: %s"},
			NoticeTransferred: {"Ticket übertragen", "Ein Ticket Ihrer Bestellung ging an seinen neuen Inhaber: %s"},
		},
		Google: GoogleWords{
			CancelledHead: "Ticket storniert", CancelledBody: "Dieses Ticket wurde storniert und ist nicht mehr gültig.",
			ValidAgainHead: "Ticket wieder gültig", ValidAgainBody: "Dieses Ticket ist wieder gültig.",
			UsedHead: "Ticket entwertet", CheckedInHead: "Eingecheckt", ScannedBody: "Am Eingang gescannt um %s.",
			TimeHead: "Neuer Termin", TimeBody: "Die Veranstaltung beginnt jetzt am %s.", VenueHead: "Neuer Veranstaltungsort",
			SeatHead: "Ihr Platz hat sich geändert", GateHead: "Ihr Eingang hat sich geändert", NoticeHead: "Mitteilung des Veranstalters",
		},
		Page: PageWords{
			Title: "Ihre Tickets", Order: "Bestellung", AddApple: "Zu Apple Wallet hinzufügen", AddAllApple: "Alle Tickets zu Apple Wallet hinzufügen",
			AddGoogle: "Zu Google Wallet hinzufügen", Scan: "Scannen Sie diesen Code mit Ihrem Telefon, um die Tickets hinzuzufügen.", QR: "QR-Code dieser Seite",
			Valid: "Gültig", Used: "Entwertet", Cancelled: "Storniert",
			NoWallet:    "Google Wallet wird für diese Veranstaltung nicht angeboten.",
			LinkExpired: "Dieser Link ist abgelaufen.", LinkInvalid: "Dieser Link ist ungültig.",
			LinkHelp: "Öffnen Sie Ihre Bestellseite erneut über Ihre Bestätigungs-E-Mail, oder bitten Sie den Veranstalter um einen neuen Link.",
			Months:   [12]string{"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."},
		},
	},
}
