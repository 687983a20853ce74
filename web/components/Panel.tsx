export function Panel({
  title,
  children,
  className = "",
  right,
  testid,
}: {
  title: string;
  children: React.ReactNode;
  className?: string;
  right?: React.ReactNode;
  testid?: string;
}) {
  return (
    <section data-testid={testid} className={`flex flex-col rounded border border-edge bg-panel ${className}`}>
      <header className="flex items-center justify-between border-b border-edge px-3 py-1.5 text-xs uppercase tracking-wider text-slate-400">
        <span>{title}</span>
        {right}
      </header>
      <div className="min-h-0 flex-1">{children}</div>
    </section>
  );
}
