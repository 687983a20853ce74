/** Static export served by the FastAPI app at "/" (serving/app.py mounts web/out). */
const nextConfig = {
  output: "export",
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  // Dev server (npm run dev) proxies the API to a running `flowsense serve`.
  ...(process.env.NODE_ENV === "development"
    ? {
        skipTrailingSlashRedirect: true,
        async rewrites() {
          const api = process.env.FLOWSENSE_API ?? "http://127.0.0.1:8000";
          return [
            { source: "/api/:path*", destination: `${api}/api/:path*` },
            { source: "/metrics", destination: `${api}/metrics` },
            { source: "/socket.io/:path*", destination: `${api}/socket.io/:path*` },
          ];
        },
      }
    : {}),
};
export default nextConfig;
