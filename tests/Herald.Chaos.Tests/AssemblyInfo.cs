// The cluster runs Debian's nginx and HAProxy, PostgreSQL and Redis as native processes: Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
