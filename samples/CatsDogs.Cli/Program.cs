using System.Runtime.InteropServices;

namespace CatsDogs.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        // First Ctrl+C (or SIGTERM): cancel the work, which ends with exit code 130 and no stack trace. A second one:
        // leave at once with 130. System.CommandLine's own handler is off (it threw on the second Ctrl+C).
        using var cancel = new CancellationTokenSource();
        var signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (Interlocked.Increment(ref signals) > 1)
            {
                Console.Error.WriteLine("Stopped.");
                ExitAtOnce(CliApp.Cancelled);
            }

            Console.Error.WriteLine("Cancelling… (press Ctrl+C again to stop at once)");
            cancel.Cancel();
        }

        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return CliApp.Run(args, Console.Out, Console.Error, cancel.Token);
    }

    // Environment.Exit runs the native exit handlers, which tear ONNX Runtime down under the kernels still running
    // on its threads; each then prints a red "GetElementType is not implemented" line after "Stopped.". _exit ends
    // the process without them, and loses nothing Environment.Exit would keep: .NET runs no finalizers at exit
    // either, what was written is in the system's cache, and outputs are moved into place only when complete.
    private static void ExitAtOnce(int code)
    {
        Console.Error.Flush(); // stdout is left alone: a reader that stopped reading must not hold up the exit
        if (OperatingSystem.IsLinux())
        {
            _exit(code);
        }

        Environment.Exit(code);
    }

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void _exit(int status);
}
