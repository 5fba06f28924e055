import { useEffect, useState } from "react";

// A router of a few lines: the console has a handful of pages, addressed by path under /console/ (the server answers
// index.html for each), so a library would add size and nothing else.
export const base = "/console";

export type Route =
  | { page: "overview" }
  | { page: "notifications"; query: URLSearchParams }
  | { page: "trace"; id: string }
  | { page: "rules" }
  | { page: "templates" }
  | { page: "providers" }
  | { page: "sandbox" }
  | { page: "customers"; id: string | null }
  | { page: "sources" }
  | { page: "webhooks" };

export function parse(pathname: string, search: string): Route {
  const path = pathname.startsWith(base) ? pathname.slice(base.length) : pathname;
  const parts = path.split("/").filter((p) => p.length > 0);
  if (parts[0] === "notifications" && parts[1] !== undefined) {
    return { page: "trace", id: decodeURIComponent(parts[1]) };
  }
  if (parts[0] === "notifications") {
    return { page: "notifications", query: new URLSearchParams(search) };
  }
  if (parts[0] === "customers") return { page: "customers", id: parts[1] === undefined ? null : decodeURIComponent(parts[1]) };
  if (parts[0] === "sources" || parts[0] === "webhooks") return { page: parts[0] };
  if (parts[0] === "rules" || parts[0] === "templates" || parts[0] === "providers" || parts[0] === "sandbox") {
    return { page: parts[0] };
  }
  return { page: "overview" };
}

export function navigate(to: string): void {
  window.history.pushState(null, "", base + to);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(window.location.pathname, window.location.search));
  useEffect(() => {
    const update = () => setRoute(parse(window.location.pathname, window.location.search));
    window.addEventListener("popstate", update);
    return () => window.removeEventListener("popstate", update);
  }, []);
  return route;
}
