import { useCallback, useEffect, useState } from "react";
import { whenSignedOut } from "../api/client";
import { NotificationsPage } from "../notifications/NotificationsPage";
import { TracePage } from "../notifications/TracePage";
import { CustomersPage } from "../customers/CustomersPage";
import { SourcesPage } from "../sources/SourcesPage";
import { WebhooksPage } from "../webhooks/WebhooksPage";
import { OverviewPage } from "../overview/OverviewPage";
import { ProvidersPage } from "../providers/ProvidersPage";
import { RulesPage } from "../rules/RulesPage";
import { SandboxPage, useSandboxAvailable } from "../sandbox/SandboxPage";
import { TemplatesPage } from "../templates/TemplatesPage";
import { currentSession, signOut, type Session } from "../session/session";
import { SignIn } from "../session/SignIn";
import { Link } from "../shared/Link";
import { useRoute } from "./router";

/** The shell: sign-in until there is a session, then the navigation and the page the path names. */
export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const route = useRoute();
  const sandbox = useSandboxAvailable(session ?? null);

  useEffect(() => {
    whenSignedOut(() => setSession(null));
    void currentSession().then(setSession);
  }, []);

  const leave = useCallback(async () => {
    await signOut();
    setSession(null);
  }, []);

  if (session === undefined) {
    return <p className="loading" role="status">Loading…</p>;
  }
  if (session === null) {
    return <SignIn onSignedIn={setSession} />;
  }

  return (
    <div className="shell">
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <span className="brand">Herald</span>
        <nav aria-label="Pages">
          <Link to="/" current={route.page === "overview"}>Overview</Link>
          <Link to="/notifications" current={route.page === "notifications" || route.page === "trace"}>Notifications</Link>
          <Link to="/rules" current={route.page === "rules"}>Rules</Link>
          <Link to="/templates" current={route.page === "templates"}>Templates</Link>
          <Link to="/providers" current={route.page === "providers"}>Providers</Link>
          <Link to="/customers" current={route.page === "customers"}>Customers</Link>
          <Link to="/sources" current={route.page === "sources"}>Sources</Link>
          <Link to="/webhooks" current={route.page === "webhooks"}>Webhooks</Link>
          {sandbox && <Link to="/sandbox" current={route.page === "sandbox"}>Sandbox</Link>}
        </nav>
        <span className="who" title={`Session ends ${new Date(session.expiresAt).toLocaleString()}`}>
          {session.keyPrefix} · {session.roles.join(", ")}
        </span>
        <button type="button" className="secondary" onClick={() => void leave()}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === "overview" && <OverviewPage />}
        {route.page === "notifications" && <NotificationsPage query={route.query} />}
        {route.page === "rules" && <RulesPage canEdit={session.roles.includes("admin")} />}
        {route.page === "templates" && <TemplatesPage canEdit={session.roles.includes("admin")} />}
        {route.page === "providers" && <ProvidersPage canEdit={session.roles.includes("admin")} />}
        {route.page === "customers" && <CustomersPage id={route.id} canEdit={session.roles.includes("admin")} />}
        {route.page === "sources" && <SourcesPage canEdit={session.roles.includes("admin")} canSend={session.roles.some((r) => r === "send" || r === "admin")} />}
        {route.page === "webhooks" && <WebhooksPage canEdit={session.roles.includes("admin")} />}
        {route.page === "sandbox" && <SandboxPage canControl={session.roles.includes("admin")} canReply={session.roles.some((r) => r === "send" || r === "admin")} />}
        {route.page === "trace" && <TracePage id={route.id} canCancel={session.roles.some((r) => r === "send" || r === "admin")} />}
      </main>
    </div>
  );
}
