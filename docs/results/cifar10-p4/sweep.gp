# made by p4 sweep; run with: gnuplot docs/results/cifar10-p4/sweep.gp
set datafile separator ','
set logscale x 2
set key center right
set xlabel 'epsilon per client (delta 1e-05)'
set ylabel 'mean personalised test accuracy'
set title 'configs/cifar10-p4.ini'
set grid
inf_x = 16
set xrange [6.4:20]
set xtics ("8" 8)
x(e) = (e eq 'inf') ? inf_x : real(e)
set terminal png size 800,520
set output 'docs/results/cifar10-p4/sweep.png'
plot 'docs/results/cifar10-p4/summary.csv' using (strcol(1) eq 'p4' ? x(strcol(2)) : NaN):3:4 skip 1 with yerrorlines title 'p4', 'docs/results/cifar10-p4/summary.csv' using (strcol(1) eq 'local' ? x(strcol(2)) : NaN):3:4 skip 1 with yerrorlines title 'local', 'docs/results/cifar10-p4/summary.csv' using (strcol(1) eq 'proxyfl-avg' ? x(strcol(2)) : NaN):3:4 skip 1 with yerrorlines title 'proxyfl-avg'
set terminal svg size 800,520
set output 'docs/results/cifar10-p4/sweep.svg'
plot 'docs/results/cifar10-p4/summary.csv' using (strcol(1) eq 'p4' ? x(strcol(2)) : NaN):3:4 skip 1 with yerrorlines title 'p4', 'docs/results/cifar10-p4/summary.csv' using (strcol(1) eq 'local' ? x(strcol(2)) : NaN):3:4 skip 1 with yerrorlines title 'local', 'docs/results/cifar10-p4/summary.csv' using (strcol(1) eq 'proxyfl-avg' ? x(strcol(2)) : NaN):3:4 skip 1 with yerrorlines title 'proxyfl-avg'
