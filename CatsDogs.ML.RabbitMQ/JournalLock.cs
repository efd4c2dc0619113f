namespace CatsDogs.ML.RabbitMQ;

/// <summary>
/// The lock that makes a gather's journal its own: <c>JOURNAL.lock</c> beside it, locked for as long as the gather
/// runs and holding one line naming the gather (host, pid, journal). The system releases the lock when the process
/// ends, however it ends, so a crashed gather never blocks the next; a second gather of the same journal, in this
/// process or another, is refused with the holder's line.
/// </summary>
internal sealed class JournalLock : IDisposable
{
    private static readonly HashSet<string> HeldHere = new(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);

    private readonly FileStream _file;
    private readonly string _path;

    private JournalLock(FileStream file, string path)
    {
        _file = file;
        _path = path;
    }

    /// <summary>Locks <paramref name="journal"/> for <paramref name="holder"/>.</summary>
    /// <exception cref="BrokerException">Another gather holds it; the message names that gather.</exception>
    public static JournalLock Take(string journal, string holder)
    {
        var path = Path.GetFullPath(journal) + ".lock";
        lock (HeldHere)
        {
            if (!HeldHere.Add(path))
            {
                throw Refused(journal, path, $"another gather in this process (pid {Environment.ProcessId})");
            }
        }

        FileStream? file = null;
        try
        {
            // A record lock (fcntl) on the first byte: exclusive between processes, while the file stays readable, so
            // the refused gather can say who holds it. macOS has no such lock in .NET: the whole file is locked there.
            try
            {
                file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, OperatingSystem.IsMacOS() ? FileShare.None : FileShare.ReadWrite);
                if (!OperatingSystem.IsMacOS())
                {
                    file.Lock(0, 1);
                }
            }
            catch (IOException)
            {
                string owner;
                try
                {
                    owner = File.ReadAllText(path).Trim() is { Length: > 0 } line ? Messages.Quote(line, 1000)[1..^1] : "a gather still starting";
                }
                catch (IOException)
                {
                    owner = "another gather";
                }

                throw Refused(journal, path, owner);
            }

            file.SetLength(0);
            file.Write(System.Text.Encoding.UTF8.GetBytes(holder + Environment.NewLine));
            file.Flush(flushToDisk: true);
            return new JournalLock(file, path);
        }
        catch
        {
            file?.Dispose();
            lock (HeldHere)
            {
                HeldHere.Remove(path);
            }

            throw;
        }
    }

    /// <summary>Releases the lock and removes the lock file.</summary>
    public void Dispose()
    {
        try
        {
            File.Delete(_path); // while still locked, so no other gather reads a half-released lock
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A lock file left behind holds no lock: the next gather takes it.
        }

        _file.Dispose();
        lock (HeldHere)
        {
            HeldHere.Remove(_path);
        }
    }

    private static BrokerException Refused(string journal, string path, string owner) =>
        new($"The journal '{Path.GetFullPath(journal)}' is in use by {owner} (lock {path}); one gather per job and --out: wait for it, or stop it and run this one again.");
}
