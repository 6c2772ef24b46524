"""The fictional shop the sample data describes: teams, the category tree, solution templates, texts.

Pure data, no numpy: the generator turns it into lookup arrays. Numbers here are the knobs that make
the analytics views show real differences (costly rare payment outages vs. cheap frequent UI
glitches, fast and slow teams, good and bad runbooks).
"""

from __future__ import annotations

from dataclasses import dataclass

from incidents.project.models import Lifecycle

PRIORITIES = ("critical", "high", "medium", "low")
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")
IMPACT_LEVELS = ("critical", "major", "moderate", "minor", "none")
SOURCES = ("monitoring", "customer_report", "internal", "partner", "automated")
ROOT_CAUSES = ("deployment", "configuration", "capacity", "third_party", "hardware", "software_bug", "network",
               "security", "human_error", "data", "unknown")
RESOLUTION_CODES = ("fixed", "workaround", "rolled_back", "config_change", "vendor_fix", "no_action_needed",
                    "duplicate", "cannot_reproduce")
# The lifecycle the generator models, in order (open, then resolved, then excluded). It is the
# default `lifecycle:` of project.yml; seed refuses a project that declares another one.
LIFECYCLE = Lifecycle()
STATUSES = LIFECYCLE.statuses

# P(severity | priority) and P(impact level | priority): correlated, not identical.
SEVERITY_BY_PRIORITY = ((0.70, 0.30, 0, 0, 0), (0.10, 0.60, 0.30, 0, 0), (0, 0.10, 0.60, 0.30, 0),
                        (0, 0, 0.15, 0.55, 0.30))
IMPACT_BY_PRIORITY = ((0.55, 0.35, 0.10, 0, 0), (0.05, 0.45, 0.40, 0.10, 0), (0, 0.08, 0.42, 0.40, 0.10),
                      (0, 0, 0.10, 0.50, 0.40))
# Share of the shop's revenue flow an incident of each impact level blocks while it lasts.
IMPACT_FRACTION = (0.60, 0.25, 0.08, 0.015, 0.0)

# Median minutes of each lifecycle step by priority (log-normal): lower priority waits longer.
# Calibrated against the default SLA policies (critical 5/15/240 min ... low 240/1440/14400).
STEP_MEDIANS = {
    "ack": (3.0, 10.0, 40.0, 150.0),
    "respond": (6.0, 12.0, 90.0, 600.0),
    "identify": (20.0, 60.0, 240.0, 1200.0),
    "mitigate": (15.0, 45.0, 180.0, 900.0),
    "resolve": (30.0, 120.0, 600.0, 2400.0),
    "close": (1440.0, 2880.0, 4320.0, 7200.0),
}
STEP_SIGMA = {"ack": 0.7, "respond": 0.8, "identify": 1.0, "mitigate": 1.0, "resolve": 1.0, "close": 0.6}


@dataclass(frozen=True)
class Team:
    name: str
    speed: float  # multiplies every duration: < 1 is faster
    engineers: int  # at the reference scale (5,000 incidents); grows with the square root of scale


TEAMS = (
    Team("Platform SRE", 0.75, 8),
    Team("Payments", 0.85, 6),
    Team("Catalog & Inventory", 1.20, 5),
    Team("Fulfillment", 1.35, 5),
    Team("Identity & Access", 1.00, 4),
    Team("Mobile", 1.15, 5),
    Team("Data Engineering", 1.45, 4),
    Team("Security Operations", 0.85, 4),
    Team("Integrations", 1.25, 4),
)
SUPPORT_TEAM = "Customer Support"
SUPPORT_AGENTS = 8  # at the reference scale

@dataclass(frozen=True)
class TopLevel:
    code: str
    name: str
    team: str  # owning team
    source_mix: tuple[float, ...]  # P(source) over SOURCES: monitoring/customer_report/internal/partner/automated
    root_cause_mix: tuple[float, ...]  # P(root cause) over ROOT_CAUSES
    description: str


TOP_LEVEL = (
    TopLevel("SYSTEM_OUTAGE", "System Outage", "Platform SRE", (0.80, 0.08, 0.05, 0.0, 0.07),
             (0.25, 0.15, 0.15, 0.03, 0.10, 0.12, 0.12, 0.02, 0.04, 0.0, 0.02),
             "The storefront, checkout or a core platform component is unavailable."),
    TopLevel("PERFORMANCE", "Performance Issues", "Platform SRE", (0.70, 0.12, 0.08, 0.0, 0.10),
             (0.20, 0.12, 0.30, 0.05, 0.04, 0.15, 0.08, 0.0, 0.02, 0.02, 0.02),
             "Pages, search or APIs are slow or degraded but available."),
    TopLevel("PAYMENT", "Payment Processing", "Payments", (0.55, 0.15, 0.05, 0.15, 0.10),
             (0.12, 0.15, 0.05, 0.35, 0.0, 0.15, 0.05, 0.05, 0.03, 0.03, 0.02),
             "Authorisations, captures, refunds or fraud screening fail."),
    TopLevel("INVENTORY", "Inventory Management", "Catalog & Inventory", (0.35, 0.20, 0.25, 0.05, 0.15),
             (0.10, 0.15, 0.05, 0.10, 0.0, 0.20, 0.02, 0.0, 0.13, 0.23, 0.02),
             "Stock levels, prices or catalog content are wrong or stale."),
    TopLevel("SHIPPING", "Shipping & Logistics", "Fulfillment", (0.30, 0.35, 0.10, 0.20, 0.05),
             (0.05, 0.10, 0.08, 0.45, 0.05, 0.10, 0.05, 0.0, 0.07, 0.03, 0.02),
             "Carrier integrations, labels, warehouse sync and delivery promises."),
    TopLevel("ACCOUNT", "User Account Issues", "Identity & Access", (0.30, 0.50, 0.10, 0.0, 0.10),
             (0.15, 0.15, 0.05, 0.10, 0.0, 0.25, 0.03, 0.12, 0.05, 0.08, 0.02),
             "Customers cannot log in, reset passwords or manage their profile."),
    TopLevel("MOBILE", "Mobile App Issues", "Mobile", (0.40, 0.45, 0.10, 0.0, 0.05),
             (0.35, 0.10, 0.02, 0.08, 0.0, 0.35, 0.03, 0.0, 0.02, 0.02, 0.03),
             "Crashes, broken screens and notification problems in the iOS and Android apps."),
    TopLevel("DATA", "Data Integrity", "Data Engineering", (0.45, 0.05, 0.35, 0.0, 0.15),
             (0.10, 0.10, 0.05, 0.05, 0.02, 0.25, 0.02, 0.0, 0.10, 0.29, 0.02),
             "Orders, customers or reports disagree between systems."),
    TopLevel("SECURITY", "Security", "Security Operations", (0.60, 0.05, 0.20, 0.05, 0.10),
             (0.03, 0.15, 0.05, 0.05, 0.0, 0.07, 0.05, 0.55, 0.03, 0.0, 0.02),
             "Attacks, abuse, exposed data and expiring credentials."),
    TopLevel("THIRD_PARTY", "Third Party Integrations", "Integrations", (0.45, 0.10, 0.15, 0.20, 0.10),
             (0.05, 0.12, 0.03, 0.60, 0.0, 0.08, 0.05, 0.0, 0.03, 0.02, 0.02),
             "ERP, marketplaces, email, tax and analytics vendors misbehave."),
)


@dataclass(frozen=True)
class Leaf:
    code: str  # suffix after the top-level code
    name: str
    weight: float  # relative frequency among ordinary incidents
    deploy_weight: float  # relative frequency among deploy-caused incidents
    priority: tuple[float, float, float, float]  # P(critical, high, medium, low)
    revenue_share: float  # share of the shop's revenue flow it can block
    services: tuple[str, ...]
    active: bool = True


LEAVES: dict[str, tuple[Leaf, ...]] = {
    "SYSTEM_OUTAGE": (
        Leaf("SITE_DOWN", "Storefront down", 0.6, 3.0, (0.80, 0.18, 0.02, 0.0), 1.0, ("storefront", "cdn", "web")),
        Leaf("CHECKOUT_DOWN", "Checkout unavailable", 0.5, 3.0, (0.85, 0.15, 0.0, 0.0), 1.0,
             ("checkout", "cart-service", "payments-api")),
        Leaf("API_GATEWAY", "API gateway failure", 0.7, 2.5, (0.55, 0.35, 0.10, 0.0), 0.8,
             ("api-gateway", "auth-service", "mobile-bff")),
        Leaf("DATABASE", "Primary database outage", 0.4, 1.0, (0.75, 0.20, 0.05, 0.0), 0.9,
             ("orders-db", "catalog-db", "checkout")),
    ),
    "PERFORMANCE": (
        Leaf("SLOW_PAGES", "Slow page loads", 5.0, 4.0, (0.03, 0.22, 0.50, 0.25), 0.35, ("storefront", "cdn", "web")),
        Leaf("SEARCH_LATENCY", "Search latency", 3.5, 2.5, (0.02, 0.18, 0.55, 0.25), 0.30,
             ("search-service", "elasticsearch")),
        Leaf("DB_SLOW_QUERIES", "Slow database queries", 3.0, 2.0, (0.03, 0.20, 0.52, 0.25), 0.25,
             ("orders-db", "catalog-db")),
        Leaf("CDN_DEGRADED", "CDN degradation", 1.5, 0.5, (0.05, 0.30, 0.45, 0.20), 0.30, ("cdn", "image-service")),
    ),
    "PAYMENT": (
        Leaf("GATEWAY_TIMEOUT", "Payment gateway timeouts", 1.2, 1.5, (0.45, 0.40, 0.15, 0.0), 1.0,
             ("payments-api", "checkout", "stripe")),
        Leaf("CARD_DECLINES", "Elevated card declines", 1.5, 0.5, (0.25, 0.45, 0.25, 0.05), 0.7,
             ("payments-api", "fraud-service")),
        Leaf("REFUND_FAILURES", "Refund failures", 1.2, 0.8, (0.05, 0.30, 0.50, 0.15), 0.05,
             ("payments-api", "order-service")),
        Leaf("FRAUD_FALSE_POSITIVES", "Fraud screening false positives", 1.0, 0.7, (0.10, 0.40, 0.40, 0.10), 0.4,
             ("fraud-service", "checkout")),
        Leaf("WALLET_PROVIDER", "Wallet provider errors", 0.8, 0.3, (0.15, 0.40, 0.35, 0.10), 0.25,
             ("payments-api", "paypal", "apple-pay")),
    ),
    "INVENTORY": (
        Leaf("STOCK_SYNC", "Stock level sync lag", 4.0, 1.0, (0.02, 0.15, 0.55, 0.28), 0.10,
             ("inventory-service", "wms-connector")),
        Leaf("OVERSELLING", "Overselling", 1.5, 0.5, (0.05, 0.40, 0.45, 0.10), 0.15,
             ("inventory-service", "order-service")),
        Leaf("PRICING_ERRORS", "Wrong prices displayed", 1.5, 1.5, (0.15, 0.45, 0.35, 0.05), 0.30,
             ("pricing-service", "catalog-service")),
        Leaf("CATALOG_FEED", "Catalog feed import failures", 3.0, 0.8, (0.0, 0.08, 0.52, 0.40), 0.05,
             ("catalog-service", "pim-connector")),
    ),
    "SHIPPING": (
        Leaf("CARRIER_API", "Carrier API failures", 3.0, 0.5, (0.02, 0.25, 0.53, 0.20), 0.08,
             ("shipping-service", "fedex-api", "ups-api")),
        Leaf("LABEL_PRINTING", "Label printing failures", 2.5, 0.3, (0.02, 0.20, 0.58, 0.20), 0.03,
             ("shipping-service", "wms")),
        Leaf("DELIVERY_DELAYS", "Delivery promise delays", 3.5, 0.2, (0.0, 0.10, 0.50, 0.40), 0.04,
             ("delivery-estimates", "shipping-service")),
        Leaf("WAREHOUSE_WMS", "Warehouse system sync", 2.0, 0.5, (0.03, 0.25, 0.52, 0.20), 0.05,
             ("wms", "wms-connector", "order-service")),
    ),
    "ACCOUNT": (
        Leaf("LOGIN_FAILURES", "Login failures", 2.5, 2.5, (0.15, 0.40, 0.35, 0.10), 0.25,
             ("auth-service", "identity-provider")),
        Leaf("PASSWORD_RESET", "Password reset emails missing", 2.5, 0.5, (0.0, 0.10, 0.50, 0.40), 0.02,
             ("auth-service", "email-service")),
        Leaf("ACCOUNT_LOCKOUT", "Account lockouts", 1.5, 0.5, (0.02, 0.18, 0.50, 0.30), 0.03,
             ("auth-service",)),
        Leaf("PROFILE_DATA", "Profile and address update errors", 2.0, 1.0, (0.0, 0.07, 0.48, 0.45), 0.02,
             ("customer-service", "address-validation")),
    ),
    "MOBILE": (
        Leaf("IOS_CRASH", "iOS app crashes", 2.5, 3.5, (0.10, 0.35, 0.40, 0.15), 0.15, ("ios-app", "mobile-bff")),
        Leaf("ANDROID_CRASH", "Android app crashes", 2.5, 3.5, (0.10, 0.35, 0.40, 0.15), 0.12,
             ("android-app", "mobile-bff")),
        Leaf("PUSH_NOTIFICATIONS", "Push notifications not delivered", 2.0, 1.0, (0.0, 0.05, 0.45, 0.50), 0.01,
             ("notification-service", "firebase")),
        Leaf("UI_GLITCH", "UI rendering glitches", 7.0, 4.0, (0.0, 0.03, 0.32, 0.65), 0.01,
             ("ios-app", "android-app", "web")),
        Leaf("WINDOWS_PHONE", "Legacy Windows Phone app", 0.0, 0.0, (0.0, 0.0, 0.2, 0.8), 0.0, ("wp-app",),
             active=False),
    ),
    "DATA": (
        Leaf("ORDER_MISMATCH", "Order data mismatch", 2.0, 1.0, (0.02, 0.20, 0.55, 0.23), 0.03,
             ("order-service", "erp-connector")),
        Leaf("REPORTING_DELAY", "Analytics pipeline delays", 4.0, 1.0, (0.0, 0.05, 0.40, 0.55), 0.0,
             ("data-pipeline", "warehouse")),
        Leaf("DUPLICATE_ORDERS", "Duplicate orders", 1.0, 0.8, (0.10, 0.40, 0.40, 0.10), 0.10,
             ("order-service", "checkout")),
        Leaf("CUSTOMER_DATA", "Customer record corruption", 1.0, 0.5, (0.05, 0.30, 0.45, 0.20), 0.02,
             ("customer-service", "crm-sync")),
    ),
    "SECURITY": (
        Leaf("CREDENTIAL_STUFFING", "Credential stuffing attack", 1.0, 0.0, (0.30, 0.45, 0.20, 0.05), 0.10,
             ("auth-service", "waf")),
        Leaf("DDOS", "DDoS attack", 0.5, 0.0, (0.55, 0.35, 0.10, 0.0), 0.70, ("cdn", "waf", "storefront")),
        Leaf("DATA_EXPOSURE", "Sensitive data exposure", 0.3, 0.3, (0.60, 0.35, 0.05, 0.0), 0.0,
             ("customer-service", "storage")),
        Leaf("BOT_TRAFFIC", "Scraping and bot traffic", 2.0, 0.0, (0.0, 0.10, 0.50, 0.40), 0.05,
             ("waf", "storefront")),
        Leaf("CERT_EXPIRY", "Certificate expiry", 0.6, 0.5, (0.35, 0.40, 0.20, 0.05), 0.50,
             ("cdn", "api-gateway")),
    ),
    "THIRD_PARTY": (
        Leaf("ERP_SYNC", "ERP sync failures", 2.0, 0.8, (0.02, 0.18, 0.55, 0.25), 0.02,
             ("erp-connector", "order-service")),
        Leaf("MARKETPLACE", "Marketplace listing sync", 2.0, 0.5, (0.02, 0.20, 0.53, 0.25), 0.08,
             ("marketplace-connector", "catalog-service")),
        Leaf("EMAIL_PROVIDER", "Transactional email delivery", 2.0, 0.5, (0.02, 0.25, 0.50, 0.23), 0.02,
             ("email-service", "sendgrid")),
        Leaf("TAX_SERVICE", "Tax calculation service errors", 1.0, 0.5, (0.30, 0.40, 0.25, 0.05), 0.60,
             ("tax-service", "checkout")),
        Leaf("ANALYTICS_TAGS", "Analytics tags broken", 2.5, 1.5, (0.0, 0.02, 0.38, 0.60), 0.0,
             ("tag-manager", "web")),
    ),
}

SOURCE_SYSTEMS = {
    "monitoring": ("datadog", "prometheus", "new-relic", "pagerduty"),
    "customer_report": ("zendesk", "live-chat", "email", "app-store-review"),
    "internal": ("slack", "jira", "ops-review", "qa"),
    "partner": ("partner-portal", "stripe-status", "carrier-edi", "marketplace-api"),
    "automated": ("synthetic-checks", "cloudwatch", "dbt-tests", "anomaly-detection"),
}
# System accounts that file alerts, by source system, plus one that auto-closes incidents.
SYSTEM_ACCOUNTS = ("datadog", "prometheus", "new-relic", "pagerduty", "synthetic-checks", "cloudwatch", "dbt-tests",
                   "anomaly-detection", "partner-gateway", "incident-bot")

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")
TIMEZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/Dublin", "Europe/Berlin",
             "Asia/Kolkata")
FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jon", "Kemi", "Liam",
               "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Victor", "Wen", "Ximena",
               "Yusuf", "Zoe", "Aarav", "Bianca", "Carlos", "Dana")
LAST_NAMES = ("Okafor", "Schmidt", "Nguyen", "Patel", "Garcia", "Kowalski", "Tanaka", "Silva", "Murphy", "Haddad",
              "Larsen", "Rossi", "Chen", "Dubois", "Novak", "Moreau", "Ivanova", "Kim", "Hughes", "Mensah")
SKILLS = ("kubernetes", "postgres", "kafka", "java", "python", "go", "react", "swift", "kotlin", "terraform",
          "payments", "networking", "security", "dbt", "snowflake")


@dataclass(frozen=True)
class Template:
    code: str
    title: str
    category: str | None  # top-level code, None = generic
    effectiveness: float  # P(success) when applied
    minutes: float  # median minutes to apply
    steps: tuple[str, ...]
    tags: tuple[str, ...]


TEMPLATES = (
    Template("RUNBOOK.ROLLBACK_DEPLOY", "Roll back the last deployment", None, 0.88, 15,
             ("Identify the last deploy in the release log", "Trigger rollback in the deploy pipeline",
              "Verify error rates return to baseline", "Open a follow-up ticket for the failed change"),
             ("deploy", "rollback")),
    Template("RUNBOOK.RESTART_SERVICE", "Restart the affected service", None, 0.55, 10,
             ("Drain traffic from one instance", "Restart instances one by one", "Watch health checks"),
             ("restart",)),
    Template("RUNBOOK.SCALE_OUT", "Scale out the service tier", "PERFORMANCE", 0.78, 12,
             ("Check CPU and queue depth", "Raise the autoscaling minimum", "Confirm latency recovers"),
             ("capacity", "autoscaling")),
    Template("RUNBOOK.CACHE_FLUSH", "Flush and warm the cache", "PERFORMANCE", 0.48, 20,
             ("Flush the affected cache keys", "Run the warm-up job", "Compare hit ratio with baseline"),
             ("cache",)),
    Template("RUNBOOK.DB_FAILOVER", "Fail over the primary database", "SYSTEM_OUTAGE", 0.82, 25,
             ("Confirm replica lag is under 5 seconds", "Promote the replica", "Repoint connection strings",
              "Rebuild the old primary as replica"), ("database", "failover")),
    Template("RUNBOOK.DNS_CDN_FAILOVER", "Switch CDN / DNS to the standby provider", "SYSTEM_OUTAGE", 0.74, 20,
             ("Lower DNS TTL", "Switch the traffic manager to the standby CDN", "Purge and verify"),
             ("cdn", "dns")),
    Template("RUNBOOK.PAYMENT_FAILOVER", "Route payments to the backup processor", "PAYMENT", 0.86, 10,
             ("Enable the backup processor flag", "Watch authorisation rates", "Notify finance"),
             ("payments", "failover")),
    Template("RUNBOOK.FRAUD_RULE_REVERT", "Revert the latest fraud rule change", "PAYMENT", 0.70, 15,
             ("List rule changes of the last 24 h", "Disable the suspect rule", "Review declined orders"),
             ("fraud",)),
    Template("RUNBOOK.REFUND_REPLAY", "Replay failed refunds", "PAYMENT", 0.62, 45,
             ("Export failed refund ids", "Replay them through the refunds API", "Reconcile with the ledger"),
             ("refunds",)),
    Template("RUNBOOK.STOCK_RESYNC", "Force a full stock resync", "INVENTORY", 0.72, 40,
             ("Pause incremental sync", "Run the full resync job", "Spot-check top sellers"), ("inventory",)),
    Template("RUNBOOK.PRICE_ROLLBACK", "Restore the previous price list", "INVENTORY", 0.80, 20,
             ("Find the last good price snapshot", "Restore it", "Invalidate the price cache"), ("pricing",)),
    Template("RUNBOOK.CARRIER_FALLBACK", "Switch to the fallback carrier", "SHIPPING", 0.66, 30,
             ("Enable the fallback carrier", "Re-rate open shipments", "Inform the warehouse"),
             ("carrier", "shipping")),
    Template("RUNBOOK.LABEL_QUEUE", "Drain and reprint the label queue", "SHIPPING", 0.58, 35,
             ("Clear stuck print jobs", "Reprint labels for affected orders"), ("labels",)),
    Template("RUNBOOK.AUTH_KEYS", "Rotate identity provider keys", "ACCOUNT", 0.64, 25,
             ("Generate new signing keys", "Publish JWKS", "Invalidate sessions if required"),
             ("auth", "keys")),
    Template("RUNBOOK.UNLOCK_ACCOUNTS", "Bulk-unlock affected accounts", "ACCOUNT", 0.83, 15,
             ("Query lockouts in the window", "Unlock in batches", "Email affected customers"), ("accounts",)),
    Template("RUNBOOK.FEATURE_FLAG_OFF", "Disable the feature flag", "MOBILE", 0.85, 5,
             ("Find the flag tied to the release", "Turn it off for all users", "Confirm crash rate drops"),
             ("feature-flag", "mobile")),
    Template("RUNBOOK.HOTFIX_RELEASE", "Ship an expedited app hotfix", "MOBILE", 0.60, 240,
             ("Cherry-pick the fix", "Request expedited review", "Staged rollout to 100%"), ("mobile", "release")),
    Template("RUNBOOK.BACKFILL", "Backfill the data pipeline", "DATA", 0.69, 90,
             ("Identify the affected partitions", "Rerun the pipeline for them", "Run reconciliation checks"),
             ("data", "backfill")),
    Template("RUNBOOK.DEDUPE_ORDERS", "Deduplicate and refund orders", "DATA", 0.77, 60,
             ("Find duplicate order pairs", "Cancel duplicates", "Refund captured duplicates"), ("orders",)),
    Template("RUNBOOK.WAF_BLOCK", "Block attacking sources at the WAF", "SECURITY", 0.81, 10,
             ("Identify attacking ASNs and IPs", "Add WAF block rules", "Watch for rotation"), ("waf", "security")),
    Template("RUNBOOK.FORCE_RESET", "Force password resets for exposed accounts", "SECURITY", 0.73, 30,
             ("List exposed accounts", "Force a reset", "Notify customers and legal"), ("security", "accounts")),
    Template("RUNBOOK.RENEW_CERT", "Renew and deploy the certificate", "SECURITY", 0.93, 20,
             ("Issue a new certificate", "Deploy it to load balancers and CDN", "Add an expiry alert"),
             ("certificates",)),
    Template("RUNBOOK.VENDOR_ESCALATION", "Escalate to the vendor", "THIRD_PARTY", 0.42, 60,
             ("Open a priority ticket with the vendor", "Share request ids and timestamps",
              "Track the vendor status page"), ("vendor",)),
    Template("RUNBOOK.RETRY_QUEUE", "Replay the integration retry queue", "THIRD_PARTY", 0.67, 25,
             ("Check the dead-letter queue", "Replay messages in order", "Verify downstream counts"),
             ("integration", "queue")),
    Template("RUNBOOK.LEGACY_MANUAL_FIX", "Legacy manual database fix", None, 0.30, 120,
             ("Open a database session", "Apply the manual correction"), ("legacy",)),
)

ROOT_CAUSE_TEXT = {
    "deployment": ("A release introduced a regression that tests did not cover.",
                   "A deploy shipped an incompatible schema change.",
                   "A canary was promoted before its error budget was checked."),
    "configuration": ("A configuration change set a wrong timeout.",
                      "A feature flag was enabled for the wrong audience.",
                      "A secret rotation missed one consumer."),
    "capacity": ("Traffic exceeded the provisioned capacity.", "The connection pool was exhausted under load.",
                 "Autoscaling reacted too slowly to the traffic ramp."),
    "third_party": ("The vendor had a partial outage.", "The partner API changed its rate limits without notice.",
                    "The provider degraded in one region."),
    "hardware": ("A storage node failed.", "A network card on a database host failed."),
    "software_bug": ("A race condition under concurrent requests.", "An unhandled null in an edge case.",
                     "A memory leak in a long-running worker."),
    "network": ("Packet loss between availability zones.", "A DNS resolution failure in one region."),
    "security": ("Malicious traffic from a botnet.", "Stolen credentials were used at scale.",
                 "A misconfigured bucket policy."),
    "human_error": ("A manual change was applied to the wrong environment.",
                    "A bulk update ran without a WHERE clause."),
    "data": ("Bad records in an upstream feed.", "A late-arriving partition was skipped."),
    "unknown": ("The cause could not be determined.",),
}
RESOLUTION_TEXT = {
    "fixed": ("Fixed the defect and deployed the patch.", "Applied a code fix and verified in production."),
    "workaround": ("Applied a workaround; a permanent fix is tracked separately.",),
    "rolled_back": ("Rolled back to the previous release.", "Reverted the offending change."),
    "config_change": ("Corrected the configuration.", "Adjusted limits and timeouts."),
    "vendor_fix": ("The vendor fixed the issue on their side.",),
    "no_action_needed": ("Recovered on its own; no action needed.",),
    "duplicate": ("Closed as a duplicate of the parent incident.",),
    "cannot_reproduce": ("Could not reproduce; closed after monitoring.",),
}
# P(resolution code | root cause), over RESOLUTION_CODES.
RESOLUTION_BY_CAUSE = {
    "deployment": (0.20, 0.05, 0.70, 0.05, 0, 0, 0, 0),
    "configuration": (0.10, 0.10, 0.10, 0.70, 0, 0, 0, 0),
    "capacity": (0.20, 0.30, 0, 0.40, 0, 0.10, 0, 0),
    "third_party": (0.05, 0.30, 0, 0.05, 0.55, 0.05, 0, 0),
    "hardware": (0.60, 0.30, 0, 0.10, 0, 0, 0, 0),
    "software_bug": (0.70, 0.15, 0.10, 0.05, 0, 0, 0, 0),
    "network": (0.30, 0.20, 0, 0.20, 0.10, 0.20, 0, 0),
    "security": (0.40, 0.30, 0, 0.30, 0, 0, 0, 0),
    "human_error": (0.40, 0.10, 0.20, 0.30, 0, 0, 0, 0),
    "data": (0.60, 0.30, 0, 0.10, 0, 0, 0, 0),
    "unknown": (0, 0.20, 0, 0, 0, 0.40, 0, 0.40),
}
CANCEL_REASONS = ("False alarm: monitoring threshold too sensitive.", "Reporter confirmed it works now.",
                  "Planned maintenance, not an incident.")


@dataclass(frozen=True)
class AttachmentKind:
    kind: str
    extension: str
    content_type: str
    median_bytes: int
    description: str


ATTACHMENT_KINDS = (
    AttachmentKind("screenshot", "png", "image/png", 350_000, "Screenshot of the error as the customer saw it."),
    AttachmentKind("app-log", "log.gz", "application/gzip", 4_000_000, "Application log excerpt around the incident."),
    AttachmentKind("har", "har", "application/json", 900_000, "Browser network capture (HAR)."),
    AttachmentKind("grafana", "png", "image/png", 250_000, "Dashboard snapshot of the affected metrics."),
    AttachmentKind("postmortem", "pdf", "application/pdf", 600_000, "Post-incident review document."),
)
