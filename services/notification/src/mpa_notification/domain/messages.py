"""E-mail wording per event type and language (en, fr, es, ar), kept as data in one place.

Each entry is a subject and a lead sentence; `{referral_id}`-style fields are filled from the
notification body (ids and codes only). The layout (plain text and HTML) is in templates/.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Language(StrEnum):
    ENGLISH = "en"
    FRENCH = "fr"
    SPANISH = "es"
    ARABIC = "ar"

    @property
    def right_to_left(self) -> bool:
        return self is Language.ARABIC


@dataclass(frozen=True)
class Wording:
    subject: str
    lead: str


@dataclass(frozen=True)
class Frame:
    """Words around every message: labels of the facts table, the link text, the footer."""

    greeting: str
    details: str
    open_link: str
    footer: str
    labels: Mapping[str, str]


_R = "org.mpa.referral."
_N = "org.mpa.notification."
_C = "org.mpa.case."
_A = "org.mpa.access."
_P = "org.mpa.psea."

WORDING: Mapping[Language, Mapping[str, Wording]] = MappingProxyType(
    {
        Language.ENGLISH: {
            _P + "allegation_referred.v1": Wording(
                "PSEA allegation {complaint_id} referred to your organisation",
                "The PSEA focal point referred an allegation of {allegation_type} concerning "
                "your organisation for investigation (reference {complaint_id}); its outcome "
                "is due by {investigation_due_at}. The survivor agreed to their identity "
                "being shared: {survivor_identity_shared}. The focal point will give you the "
                "account through a secure channel; it is never sent by e-mail.",
            ),
            _A + "break_glass_used.v1": Wording(
                "Break-glass read of a case of your team",
                "{actor_id} read case {case_id} outside their scope (reason: {reason}). "
                "Please review this emergency access.",
            ),
            _C + "approval_requested.v1": Wording(
                "Approval requested for case {case_id}",
                "{actor_id} asks a supervisor to approve the {subject} of case {case_id}.",
            ),
            _C + "reflection_period_ending.v1": Wording(
                "Recovery and reflection period of case {case_id} ends soon",
                "The recovery and reflection period of case {case_id} ends on {ends_at}. "
                "Review the person's situation and consider an extension.",
            ),
            _C + "follow_up_overdue.v1": Wording(
                "Follow-up overdue on case {case_id}",
                "A {follow_up_type} follow-up of your case {case_id} was due on {due_at} "
                "and is not recorded as done.",
            ),
            _R + "routed.v1": Wording(
                "New referral {referral_id} waits for you",
                "A referral was routed to your organisation. Please accept or decline it "
                "by {acceptance_due_at}.",
            ),
            _R + "accepted.v1": Wording(
                "Referral {referral_id} accepted", "The partner accepted the referral."
            ),
            _R + "declined.v1": Wording(
                "Referral {referral_id} declined",
                "The partner declined the referral (reason: {reason}). Routing tries the next "
                "eligible service.",
            ),
            _R + "completed.v1": Wording(
                "Referral {referral_id} completed",
                "The partner completed the service (outcome: {outcome}).",
            ),
            _R + "failed.v1": Wording(
                "Referral {referral_id} failed",
                "The partner could not deliver the service (reason: {reason}).",
            ),
            _R + "sla_breached.v1": Wording(
                "Deadline missed on referral {referral_id}",
                "The referral missed its {milestone} deadline ({due_at}).",
            ),
            _R + "unroutable.v1": Wording(
                "Referral {referral_id} could not be routed",
                "No eligible partner service could take the referral (reason: {reason}). "
                "A caseworker must act.",
            ),
            _N + "exhausted.v1": Wording(
                "Partner not reached for referral {referral_id}",
                "Every attempt to notify the partner failed. Please reach the partner another way.",
            ),
            _N + "endpoint_disabled.v1": Wording(
                "Your webhook endpoint was disabled",
                "The platform stopped sending to one of your webhook endpoints "
                "(reason: {reason}). Fix it, enable it again and recover the missed messages.",
            ),
        },
        Language.FRENCH: {
            _P + "allegation_referred.v1": Wording(
                "Allégation PSEA {complaint_id} transmise à votre organisation",
                "Le point focal PSEA a transmis pour enquête une allégation de "
                "{allegation_type} concernant votre organisation (référence {complaint_id}) ; "
                "ses conclusions sont attendues au plus tard le {investigation_due_at}. La "
                "personne survivante accepte que son identité soit communiquée : "
                "{survivor_identity_shared}. Le point focal vous remettra le récit par un "
                "canal sécurisé ; il n'est jamais envoyé par courriel.",
            ),
            _A + "break_glass_used.v1": Wording(
                "Accès d'urgence à un dossier de votre équipe",
                "{actor_id} a consulté le dossier {case_id} hors de son périmètre "
                "(motif : {reason}). Merci d'examiner cet accès d'urgence.",
            ),
            _C + "approval_requested.v1": Wording(
                "Approbation demandée pour le dossier {case_id}",
                "{actor_id} demande à un superviseur d'approuver « {subject} » du dossier "
                "{case_id}.",
            ),
            _C + "reflection_period_ending.v1": Wording(
                "Le délai de rétablissement et de réflexion du dossier {case_id} prend bientôt fin",
                "Le délai de rétablissement et de réflexion du dossier {case_id} prend fin le "
                "{ends_at}. Réexaminez la situation de la personne et envisagez une prolongation.",
            ),
            _C + "follow_up_overdue.v1": Wording(
                "Suivi en retard pour le dossier {case_id}",
                "Un suivi « {follow_up_type} » de votre dossier {case_id} était prévu le "
                "{due_at} et n'est pas enregistré comme fait.",
            ),
            _R + "routed.v1": Wording(
                "Nouvelle orientation {referral_id} en attente",
                "Une orientation a été adressée à votre organisation. Merci de l'accepter ou "
                "de la refuser avant le {acceptance_due_at}.",
            ),
            _R + "accepted.v1": Wording(
                "Orientation {referral_id} acceptée", "Le partenaire a accepté l'orientation."
            ),
            _R + "declined.v1": Wording(
                "Orientation {referral_id} refusée",
                "Le partenaire a refusé l'orientation (motif : {reason}). Le routage essaie "
                "le service éligible suivant.",
            ),
            _R + "completed.v1": Wording(
                "Orientation {referral_id} terminée",
                "Le partenaire a terminé le service (résultat : {outcome}).",
            ),
            _R + "failed.v1": Wording(
                "Échec de l'orientation {referral_id}",
                "Le partenaire n'a pas pu fournir le service (motif : {reason}).",
            ),
            _R + "sla_breached.v1": Wording(
                "Délai dépassé pour l'orientation {referral_id}",
                "L'orientation a dépassé son délai « {milestone} » ({due_at}).",
            ),
            _R + "unroutable.v1": Wording(
                "Orientation {referral_id} impossible à router",
                "Aucun service partenaire éligible n'a pu prendre l'orientation "
                "(motif : {reason}). Un travailleur social doit agir.",
            ),
            _N + "exhausted.v1": Wording(
                "Partenaire injoignable pour l'orientation {referral_id}",
                "Toutes les tentatives de notification du partenaire ont échoué. Merci de le "
                "joindre par un autre moyen.",
            ),
            _N + "endpoint_disabled.v1": Wording(
                "Votre point de terminaison webhook a été désactivé",
                "La plateforme a cessé d'envoyer à l'un de vos points de terminaison "
                "(motif : {reason}). Corrigez-le, réactivez-le et récupérez les messages "
                "manqués.",
            ),
        },
        Language.SPANISH: {
            _P + "allegation_referred.v1": Wording(
                "Denuncia PSEA {complaint_id} remitida a su organización",
                "El punto focal PSEA remitió para investigación una denuncia de "
                "{allegation_type} que concierne a su organización (referencia "
                "{complaint_id}); el resultado se espera antes del {investigation_due_at}. La "
                "persona sobreviviente acepta que se comparta su identidad: "
                "{survivor_identity_shared}. El punto focal le dará el relato por un canal "
                "seguro; nunca se envía por correo electrónico.",
            ),
            _A + "break_glass_used.v1": Wording(
                "Acceso de emergencia a un caso de su equipo",
                "{actor_id} consultó el caso {case_id} fuera de su ámbito (motivo: {reason}). "
                "Revise este acceso de emergencia.",
            ),
            _C + "approval_requested.v1": Wording(
                "Aprobación solicitada para el caso {case_id}",
                "{actor_id} pide a un supervisor que apruebe «{subject}» del caso {case_id}.",
            ),
            _C + "reflection_period_ending.v1": Wording(
                "El período de restablecimiento y reflexión del caso {case_id} termina pronto",
                "El período de restablecimiento y reflexión del caso {case_id} termina el "
                "{ends_at}. Revise la situación de la persona y considere una prórroga.",
            ),
            _C + "follow_up_overdue.v1": Wording(
                "Seguimiento atrasado en el caso {case_id}",
                "Un seguimiento «{follow_up_type}» de su caso {case_id} vencía el {due_at} "
                "y no consta como realizado.",
            ),
            _R + "routed.v1": Wording(
                "Nueva derivación {referral_id} pendiente",
                "Se ha derivado un caso a su organización. Acéptela o rechácela antes del "
                "{acceptance_due_at}.",
            ),
            _R + "accepted.v1": Wording(
                "Derivación {referral_id} aceptada", "El socio aceptó la derivación."
            ),
            _R + "declined.v1": Wording(
                "Derivación {referral_id} rechazada",
                "El socio rechazó la derivación (motivo: {reason}). El enrutamiento prueba el "
                "siguiente servicio elegible.",
            ),
            _R + "completed.v1": Wording(
                "Derivación {referral_id} completada",
                "El socio completó el servicio (resultado: {outcome}).",
            ),
            _R + "failed.v1": Wording(
                "Derivación {referral_id} fallida",
                "El socio no pudo prestar el servicio (motivo: {reason}).",
            ),
            _R + "sla_breached.v1": Wording(
                "Plazo incumplido en la derivación {referral_id}",
                "La derivación incumplió su plazo «{milestone}» ({due_at}).",
            ),
            _R + "unroutable.v1": Wording(
                "No se pudo enrutar la derivación {referral_id}",
                "Ningún servicio elegible pudo aceptar la derivación (motivo: {reason}). "
                "Un gestor de casos debe intervenir.",
            ),
            _N + "exhausted.v1": Wording(
                "Socio no localizado para la derivación {referral_id}",
                "Fallaron todos los intentos de notificar al socio. Contáctelo por otra vía.",
            ),
            _N + "endpoint_disabled.v1": Wording(
                "Su endpoint de webhook fue desactivado",
                "La plataforma dejó de enviar a uno de sus endpoints (motivo: {reason}). "
                "Corríjalo, vuelva a activarlo y recupere los mensajes perdidos.",
            ),
        },
        Language.ARABIC: {
            _P + "allegation_referred.v1": Wording(
                "إحالة ادعاء الحماية من الاستغلال والانتهاك الجنسيين {complaint_id} إلى منظمتكم",
                "أحال منسق الحماية من الاستغلال والانتهاك الجنسيين ادعاءً من نوع "
                "{allegation_type} يخص منظمتكم للتحقيق (المرجع {complaint_id})؛ وينتظر صدور "
                "النتيجة قبل {investigation_due_at}. وافق الناجي أو الناجية على مشاركة هويته: "
                "{survivor_identity_shared}. سيسلمكم المنسق الرواية عبر قناة آمنة، ولا تُرسل "
                "أبداً بالبريد الإلكتروني.",
            ),
            _A + "break_glass_used.v1": Wording(
                "وصول طارئ إلى حالة تابعة لفريقك",
                "اطّلع {actor_id} على الحالة {case_id} خارج نطاقه (السبب: {reason}). "
                "يُرجى مراجعة هذا الوصول الطارئ.",
            ),
            _C + "approval_requested.v1": Wording(
                "طلب موافقة على الحالة {case_id}",
                "يطلب {actor_id} من مشرف الموافقة على «{subject}» للحالة {case_id}.",
            ),
            _C + "reflection_period_ending.v1": Wording(
                "فترة التعافي والتفكير للحالة {case_id} تنتهي قريبًا",
                "تنتهي فترة التعافي والتفكير للحالة {case_id} في {ends_at}. "
                "يرجى مراجعة وضع الشخص والنظر في تمديدها.",
            ),
            _C + "follow_up_overdue.v1": Wording(
                "متابعة متأخرة للحالة {case_id}",
                "كانت متابعة «{follow_up_type}» لحالتك {case_id} مستحقة في {due_at} "
                "ولم تُسجَّل على أنها أُنجزت.",
            ),
            _R + "routed.v1": Wording(
                "إحالة جديدة {referral_id} بانتظاركم",
                "تمت إحالة حالة إلى منظمتكم. يرجى قبولها أو رفضها قبل {acceptance_due_at}.",
            ),
            _R + "accepted.v1": Wording("تم قبول الإحالة {referral_id}", "قبل الشريك الإحالة."),
            _R + "declined.v1": Wording(
                "تم رفض الإحالة {referral_id}",
                "رفض الشريك الإحالة (السبب: {reason}). سيحاول النظام الخدمة المؤهلة التالية.",
            ),
            _R + "completed.v1": Wording(
                "اكتملت الإحالة {referral_id}", "أكمل الشريك الخدمة (النتيجة: {outcome})."
            ),
            _R + "failed.v1": Wording(
                "فشلت الإحالة {referral_id}", "لم يتمكن الشريك من تقديم الخدمة (السبب: {reason})."
            ),
            _R + "sla_breached.v1": Wording(
                "تجاوز المهلة في الإحالة {referral_id}",
                "تجاوزت الإحالة مهلة «{milestone}» ({due_at}).",
            ),
            _R + "unroutable.v1": Wording(
                "تعذّر توجيه الإحالة {referral_id}",
                "لم تتمكن أي خدمة شريكة مؤهلة من استلام الإحالة (السبب: {reason}). "
                "يجب أن يتدخل مدير الحالة.",
            ),
            _N + "exhausted.v1": Wording(
                "تعذّر الوصول إلى الشريك بشأن الإحالة {referral_id}",
                "فشلت جميع محاولات إبلاغ الشريك. يرجى التواصل معه بطريقة أخرى.",
            ),
            _N + "endpoint_disabled.v1": Wording(
                "تم تعطيل نقطة استقبال الويب هوك الخاصة بكم",
                "توقفت المنصة عن الإرسال إلى إحدى نقاط الاستقبال لديكم (السبب: {reason}). "
                "يرجى إصلاحها وإعادة تفعيلها واسترجاع الرسائل الفائتة.",
            ),
        },
    }
)

_LABEL_KEYS = ("referral_id", "case_id", "partner_id", "state", "event_id", "endpoint_id")

FRAMES: Mapping[Language, Frame] = MappingProxyType(
    {
        Language.ENGLISH: Frame(
            "Hello,",
            "Details",
            "Open in the platform",
            "This message holds no personal data. Sign in to see the case.",
            dict(
                zip(
                    _LABEL_KEYS,
                    ("Referral", "Case", "Partner", "State", "Event", "Endpoint"),
                    strict=True,
                )
            ),
        ),
        Language.FRENCH: Frame(
            "Bonjour,",
            "Détails",
            "Ouvrir dans la plateforme",
            "Ce message ne contient aucune donnée personnelle. Connectez-vous pour voir le "
            "dossier.",
            dict(
                zip(
                    _LABEL_KEYS,
                    (
                        "Orientation",
                        "Dossier",
                        "Partenaire",
                        "État",
                        "Événement",
                        "Point de terminaison",
                    ),
                    strict=True,
                )
            ),
        ),
        Language.SPANISH: Frame(
            "Hola:",
            "Detalles",
            "Abrir en la plataforma",
            "Este mensaje no contiene datos personales. Inicie sesión para ver el caso.",
            dict(
                zip(
                    _LABEL_KEYS,
                    ("Derivación", "Caso", "Socio", "Estado", "Evento", "Endpoint"),
                    strict=True,
                )
            ),
        ),
        Language.ARABIC: Frame(
            "مرحباً،",
            "التفاصيل",
            "فتح في المنصة",
            "لا تحتوي هذه الرسالة على أي بيانات شخصية. سجّل الدخول للاطلاع على الحالة.",
            dict(
                zip(
                    _LABEL_KEYS,
                    ("الإحالة", "الحالة", "الشريك", "الوضع", "الحدث", "نقطة الاستقبال"),
                    strict=True,
                )
            ),
        ),
    }
)


class _Blank(dict[str, object]):
    # A field a message names but a body lacks renders as "-" rather than failing the mail.
    def __missing__(self, key: str) -> str:
        return "-"


def wording_for(event_type: str, language: Language, fields: Mapping[str, object]) -> Wording:
    """The subject and lead of an e-mail, filled in; English when a language lacks it."""
    wording = WORDING[language].get(event_type) or WORDING[Language.ENGLISH].get(event_type)
    if wording is None:
        raise KeyError(f"no e-mail wording for {event_type}")
    values = _Blank(fields)
    return Wording(wording.subject.format_map(values), wording.lead.format_map(values))


def has_wording(event_type: str) -> bool:
    return event_type in WORDING[Language.ENGLISH]
